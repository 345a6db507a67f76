package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cardswitch/cardswitch/codec"
)

func init() {
	register(&command{
		name: "decode",
		args: "[HEX]",
		summary: "Print an ISO 8583 message field by field.\n\n" +
			"The message is hex on the command line or on standard input (spaces, newlines and\n" +
			"colons are ignored). With --framing the hex starts with the length header (and TPDU),\n" +
			"which are checked and shown. PAN and track data are masked unless --unmask is given.",
		setup: func(fs *flag.FlagSet) func([]string, *env) error {
			dialect := fs.String("dialect", codec.ISO87ASCII, "dialect: "+strings.Join(codec.Builtins(), ", ")+", or a moov-io/iso8583 JSON spec file")
			framing := fs.String("framing", "", "the hex starts with a frame header: binary2, ascii4 or bcd2, with +tpdu for a TPDU")
			asJSON := fs.Bool("json", false, `print {"mti":...,"fields":{"2":...}} instead of a table`)
			unmask := fs.Bool("unmask", false, "show PAN, track data, PIN block and ICC data in full")
			return func(args []string, e *env) error {
				return runDecode(e, *dialect, *framing, *asJSON, *unmask, args)
			}
		},
	})
	register(&command{
		name: "encode",
		args: "< message.json",
		summary: "Build an ISO 8583 message from its JSON form and print it as upper-case hex.\n\n" +
			`The JSON is what 'decode --json --unmask' prints: {"mti":"0200","fields":{"3":"000000",...}},` + "\n" +
			"with \"header\" (hex) for dialects that have one. With --framing the output is framed.",
		setup: func(fs *flag.FlagSet) func([]string, *env) error {
			dialect := fs.String("dialect", codec.ISO87ASCII, "dialect: "+strings.Join(codec.Builtins(), ", ")+", or a moov-io/iso8583 JSON spec file")
			framing := fs.String("framing", "", "frame the message: binary2, ascii4 or bcd2, with +tpdu for a TPDU")
			tpdu := fs.String("tpdu", "", "TPDU as 10 hex digits, for a +tpdu framing (default: the JSON's \"tpdu\")")
			return func(args []string, e *env) error {
				if len(args) > 0 {
					return usagef("encode reads JSON on standard input, not arguments")
				}
				return runEncode(e, *dialect, *framing, *tpdu)
			}
		},
	})
}

// jsonMessage is the JSON form of the tools: codec.Message plus the TPDU.
type jsonMessage struct {
	TPDU string `json:"tpdu,omitempty"`
	codec.Message
}

func readHexInput(e *env, args []string) ([]byte, error) {
	var text string
	if len(args) > 0 {
		text = strings.Join(args, "")
	} else {
		raw, err := io.ReadAll(io.LimitReader(e.stdin, 1<<20))
		if err != nil {
			return nil, err
		}
		text = string(raw)
	}
	text = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\n', '\r', '\t', ':':
			return -1
		}
		return r
	}, text)
	text = strings.TrimPrefix(strings.TrimPrefix(text, "0x"), "0X")
	if text == "" {
		return nil, usagef("no hex given")
	}
	b, err := hex.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("input is not hex: %v", err)
	}
	return b, nil
}

func runDecode(e *env, dialect, framing string, asJSON, unmask bool, args []string) error {
	d, err := codec.Lookup(dialect)
	if err != nil {
		return usagef("%v", err)
	}
	raw, err := readHexInput(e, args)
	if err != nil {
		return err
	}
	msg, tpdu := raw, []byte(nil)
	var frameNote string
	if framing != "" {
		f, err := codec.ParseFraming(framing)
		if err != nil {
			return usagef("%v", err)
		}
		f.MaxFrame = 65535
		fr, n, err := f.Next(raw)
		switch {
		case errors.Is(err, codec.ErrNeedMore):
			return incompleteFrame(f, raw)
		case err != nil:
			return fmt.Errorf("frame header: %v", err)
		case fr.Msg == nil:
			return fmt.Errorf("frame header announces length 0 (a keep-alive)")
		}
		msg, tpdu = fr.Msg, fr.TPDU
		frameNote = fmt.Sprintf("%s, length %d", f, n-f.HeaderLen())
		if n < len(raw) {
			frameNote += fmt.Sprintf(" (%d bytes after the frame ignored)", len(raw)-n)
		}
	}
	var v codec.View
	if err := d.Decode(&v, msg); err != nil {
		return fmt.Errorf("%s: %s", d.Name, codec.DescribeError(d, err))
	}
	if asJSON {
		m := jsonMessage{Message: v.ToMessage(!unmask)}
		if tpdu != nil {
			m.TPDU = fmt.Sprintf("%X", tpdu)
		}
		out, _ := json.Marshal(m)
		_, err := fmt.Fprintf(e.stdout, "%s\n", out)
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "dialect %s\n", d.Name)
	if frameNote != "" {
		fmt.Fprintf(&b, "framing %s\n", frameNote)
	}
	if tpdu != nil {
		fmt.Fprintf(&b, "tpdu    %s\n", codec.DescribeTPDU(tpdu))
	}
	if err := codec.Describe(&b, &v, !unmask); err != nil {
		return err
	}
	if err := v.Validate(); err != nil {
		fmt.Fprintf(&b, "warning: %s\n", codec.DescribeError(d, err))
	}
	_, err = e.stdout.Write(b.Bytes())
	return err
}

// incompleteFrame explains a frame shorter than its header says: how many
// bytes the header announced and how many the hex holds.
func incompleteFrame(f codec.Framing, raw []byte) error {
	h := f.HeaderLen()
	if len(raw) < h {
		return fmt.Errorf("frame incomplete: %d bytes given, the %s length header alone takes %d", len(raw), f, h)
	}
	l, err := f.ReadLength(raw[:h])
	if err != nil {
		return fmt.Errorf("frame header: %v", err)
	}
	return fmt.Errorf("frame incomplete: the %s header announces %d bytes after it, the hex holds %d (cut short, or not %s framing?)", f, l, len(raw)-h, f)
}

// checkUnmasked refuses a message whose sensitive fields hold what
// decode and send print without --unmask ("476173******0010",
// "[16 characters hidden]"): they cannot be encoded back.
func checkUnmasked(m codec.Message) error {
	for id := 2; id <= codec.MaxField; id++ {
		v, ok := m.Fields[strconv.Itoa(id)]
		if !ok || !codec.Sensitive(id) {
			continue
		}
		if strings.Contains(v, "*") || strings.HasSuffix(v, "characters hidden]") {
			return fmt.Errorf("field %d is masked: decode with --unmask for JSON that encodes back", id)
		}
	}
	return nil
}

func runEncode(e *env, dialect, framing, tpduHex string) error {
	d, err := codec.Lookup(dialect)
	if err != nil {
		return usagef("%v", err)
	}
	var m jsonMessage
	dec := json.NewDecoder(io.LimitReader(e.stdin, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("reading the JSON message: %v", err)
	}
	if err := checkUnmasked(m.Message); err != nil {
		return err
	}
	msg, err := d.Encode(m.Message)
	if err != nil {
		return fmt.Errorf("%s: %s", d.Name, codec.DescribeError(d, err))
	}
	out := msg
	if framing != "" {
		f, err := codec.ParseFraming(framing)
		if err != nil {
			return usagef("%v", err)
		}
		f.MaxFrame = 65535
		if tpduHex == "" {
			tpduHex = m.TPDU
		}
		var tpdu []byte
		if f.TPDU {
			if tpdu, err = hex.DecodeString(tpduHex); err != nil || len(tpdu) != codec.TPDULen {
				return usagef("framing %s needs --tpdu with 10 hex digits", f)
			}
		}
		if out, err = f.Append(nil, tpdu, msg); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(e.stdout, "%X\n", out)
	return err
}
