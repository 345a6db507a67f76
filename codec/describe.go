package codec

import (
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// Describe writes the message field by field with field names, one per line,
// for people reading a trace. With mask set, sensitive fields are masked
// (see MaskField).
func Describe(w io.Writer, v *View, mask bool) error {
	d := v.Dialect()
	var b strings.Builder
	if d.HeaderLen > 0 {
		fmt.Fprintf(&b, "header  %X\n", v.Header())
	}
	bm := v.Bitmap()
	fmt.Fprintf(&b, "MTI     %s  %s\n", v.MTI(), DescribeMTI(v.MTI()))
	if bm[0]&(1<<63) != 0 || d.bitmap128 {
		fmt.Fprintf(&b, "bitmap  %016X %016X\n", bm[0], bm[1])
	} else {
		fmt.Fprintf(&b, "bitmap  %016X\n", bm[0])
	}
	for id := 2; id <= MaxField; id++ {
		if !v.Has(id) {
			continue
		}
		def := d.Field(id)
		text := string(v.AppendText(nil, id))
		if mask {
			text = MaskField(id, text)
		}
		fmt.Fprintf(&b, "%5d  %-44s %s\n", id, def.Description, text)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// DescribeError explains a decode error in words, naming the field.
func DescribeError(d *Dialect, err error) string {
	fe, ok := err.(*FieldError)
	if !ok {
		return err.Error()
	}
	name := "field " + fmt.Sprint(fe.Field)
	switch {
	case fe.Field == 0:
		name = "the MTI"
	case fe.Field == 1:
		name = "the bitmap"
	case d.Field(fe.Field) != nil:
		name += " (" + d.Field(fe.Field).Description + ")"
	}
	if fe.Offset >= 0 {
		return fmt.Sprintf("%s at byte %d: %v", name, fe.Offset, fe.Reason)
	}
	return fmt.Sprintf("%s: %v", name, fe.Reason)
}

// DescribeTPDU names the parts of a TPDU.
func DescribeTPDU(t []byte) string {
	if len(t) != TPDULen {
		return hex.EncodeToString(t)
	}
	return fmt.Sprintf("%X (id %02X, destination %X, source %X)", t, t[0], t[1:3], t[3:5])
}

// DescribeMTI names a message type in words.
func DescribeMTI(m MTI) string {
	class := map[byte]string{'1': "authorization", '2': "financial", '3': "file action", '4': "reversal",
		'5': "reconciliation", '6': "administrative", '7': "fee collection", '8': "network management"}[m[1]]
	fn := map[byte]string{'0': "request", '1': "request response", '2': "advice", '3': "advice response",
		'4': "notification", '5': "notification acknowledgement"}[m[2]]
	s := strings.TrimSpace(class + " " + fn)
	if m.IsRepeat() {
		s += ", repeat"
	}
	return s
}
