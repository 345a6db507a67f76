package codec

import (
	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/field"
	"github.com/moov-io/iso8583/padding"
	"github.com/moov-io/iso8583/prefix"
)

// The built-in dialects are moov-io/iso8583 MessageSpecs. The 1987 layouts
// follow jPOS's ISO87APackager, ISO87APackagerBBitmap (the ASCII fields
// with a raw 8-byte bitmap) and ISO87BPackager field for field, so frames
// are byte-compatible with them, with two deliberate differences from moov's
// own Spec87ASCII: the bitmap is 8 bytes with bit 1 announcing the
// secondary bitmap (Spec87ASCII fixes it at 16 bytes and never sets bit 1),
// and binary fields (52, 64, 96, 128) use a fixed ASCII prefix so moov can
// pack them (Spec87ASCII's Hex.Fixed prefix refuses their length).
//
// Field 65 (jPOS: one byte of "extended bitmap") is not defined: bit 65 would
// announce a tertiary bitmap, which the codec refuses.

// kind is a compact field shape used by the tables below.
type kind byte

const (
	kNum      kind = 'n' // fixed numeric, right-aligned (zero-padded on the left)
	kNumLeft  kind = 'l' // fixed numeric, left-aligned in BCD
	kLLNum    kind = 'N' // LL numeric
	kLLLNum   kind = 'M' // LLL numeric
	kChar     kind = 'a' // fixed text, space-padded on the right
	kLLChar   kind = 'A' // LL text
	kLLLChar  kind = 'T' // LLL text
	kLLTrack  kind = 'z' // LL track data
	kLLLTrack kind = 'Z' // LLL track data
	kBin      kind = 'b' // fixed binary
	kLLLBin   kind = 'B' // LLL binary
	kAmount   kind = 'x' // fixed x+n amount
	kEMV      kind = 'E' // LLL ICC data: ansb (hex text or raw bytes) in the ASCII dialect, bytes in binary ones
)

type row struct {
	id     int
	k      kind
	length int
	desc   string
}

// iso87Fields is the ISO 8583:1987 field layout shared by the ASCII and binary
// dialects (jPOS ISO87APackager / ISO87BPackager).
var iso87Fields = []row{
	{2, kLLNum, 19, "Primary Account Number"},
	{3, kNum, 6, "Processing Code"},
	{4, kNum, 12, "Amount, Transaction"},
	{5, kNum, 12, "Amount, Settlement"},
	{6, kNum, 12, "Amount, Cardholder Billing"},
	{7, kNum, 10, "Transmission Date and Time"},
	{8, kNum, 8, "Amount, Cardholder Billing Fee"},
	{9, kNum, 8, "Conversion Rate, Settlement"},
	{10, kNum, 8, "Conversion Rate, Cardholder Billing"},
	{11, kNum, 6, "Systems Trace Audit Number"},
	{12, kNum, 6, "Time, Local Transaction"},
	{13, kNum, 4, "Date, Local Transaction"},
	{14, kNum, 4, "Date, Expiration"},
	{15, kNum, 4, "Date, Settlement"},
	{16, kNum, 4, "Date, Conversion"},
	{17, kNum, 4, "Date, Capture"},
	{18, kNum, 4, "Merchant Type"},
	{19, kNum, 3, "Acquiring Institution Country Code"},
	{20, kNum, 3, "PAN Extended Country Code"},
	{21, kNum, 3, "Forwarding Institution Country Code"},
	{22, kNum, 3, "Point of Service Entry Mode"},
	{23, kNum, 3, "Card Sequence Number"},
	{24, kNum, 3, "Network International Identifier"},
	{25, kNum, 2, "Point of Service Condition Code"},
	{26, kNum, 2, "Point of Service PIN Capture Code"},
	{27, kNum, 1, "Authorization Identification Response Length"},
	{28, kAmount, 9, "Amount, Transaction Fee"},
	{29, kAmount, 9, "Amount, Settlement Fee"},
	{30, kAmount, 9, "Amount, Transaction Processing Fee"},
	{31, kAmount, 9, "Amount, Settlement Processing Fee"},
	{32, kLLNum, 11, "Acquiring Institution Identification Code"},
	{33, kLLNum, 11, "Forwarding Institution Identification Code"},
	{34, kLLChar, 28, "PAN Extended"},
	{35, kLLTrack, 37, "Track 2 Data"},
	{36, kLLLChar, 104, "Track 3 Data"},
	{37, kChar, 12, "Retrieval Reference Number"},
	{38, kChar, 6, "Authorization Identification Response"},
	{39, kChar, 2, "Response Code"},
	{40, kChar, 3, "Service Restriction Code"},
	{41, kChar, 8, "Card Acceptor Terminal Identification"},
	{42, kChar, 15, "Card Acceptor Identification Code"},
	{43, kChar, 40, "Card Acceptor Name/Location"},
	{44, kLLChar, 25, "Additional Response Data"},
	{45, kLLChar, 76, "Track 1 Data"},
	{46, kLLLChar, 999, "Additional Data - ISO"},
	{47, kLLLChar, 999, "Additional Data - National"},
	{48, kLLLChar, 999, "Additional Data - Private"},
	{49, kChar, 3, "Currency Code, Transaction"},
	{50, kChar, 3, "Currency Code, Settlement"},
	{51, kChar, 3, "Currency Code, Cardholder Billing"},
	{52, kBin, 8, "PIN Data"},
	{53, kNum, 16, "Security Related Control Information"},
	{54, kLLLChar, 120, "Additional Amounts"},
	{55, kEMV, 999, "ICC Data"},
	{56, kLLLChar, 999, "Reserved ISO"},
	{57, kLLLChar, 999, "Reserved National"},
	{58, kLLLChar, 999, "Reserved National"},
	{59, kLLLChar, 999, "Reserved National"},
	{60, kLLLChar, 999, "Reserved Private"},
	{61, kLLLChar, 999, "Reserved Private"},
	{62, kLLLChar, 999, "Reserved Private"},
	{63, kLLLChar, 999, "Reserved Private"},
	{64, kBin, 8, "Message Authentication Code"},
	{66, kNum, 1, "Settlement Code"},
	{67, kNum, 2, "Extended Payment Code"},
	{68, kNum, 3, "Receiving Institution Country Code"},
	{69, kNum, 3, "Settlement Institution Country Code"},
	{70, kNum, 3, "Network Management Information Code"},
	{71, kNum, 4, "Message Number"},
	{72, kNum, 4, "Message Number, Last"},
	{73, kNum, 6, "Date, Action"},
	{74, kNum, 10, "Credits, Number"},
	{75, kNum, 10, "Credits, Reversal Number"},
	{76, kNum, 10, "Debits, Number"},
	{77, kNum, 10, "Debits, Reversal Number"},
	{78, kNum, 10, "Transfer, Number"},
	{79, kNum, 10, "Transfer, Reversal Number"},
	{80, kNum, 10, "Inquiries, Number"},
	{81, kNum, 10, "Authorizations, Number"},
	{82, kNum, 12, "Credits, Processing Fee Amount"},
	{83, kNum, 12, "Credits, Transaction Fee Amount"},
	{84, kNum, 12, "Debits, Processing Fee Amount"},
	{85, kNum, 12, "Debits, Transaction Fee Amount"},
	{86, kNum, 16, "Credits, Amount"},
	{87, kNum, 16, "Credits, Reversal Amount"},
	{88, kNum, 16, "Debits, Amount"},
	{89, kNum, 16, "Debits, Reversal Amount"},
	{90, kNum, 42, "Original Data Elements"},
	{91, kChar, 1, "File Update Code"},
	{92, kChar, 2, "File Security Code"},
	{93, kChar, 6, "Response Indicator"},
	{94, kChar, 7, "Service Indicator"},
	{95, kChar, 42, "Replacement Amounts"},
	{96, kBin, 16, "Message Security Code"},
	{97, kAmount, 17, "Amount, Net Settlement"},
	{98, kChar, 25, "Payee"},
	{99, kLLNum, 11, "Settlement Institution Identification Code"},
	{100, kLLNum, 11, "Receiving Institution Identification Code"},
	{101, kLLChar, 17, "File Name"},
	{102, kLLChar, 28, "Account Identification 1"},
	{103, kLLChar, 28, "Account Identification 2"},
	{104, kLLLChar, 100, "Transaction Description"},
	{128, kBin, 8, "Message Authentication Code (secondary)"},
}

func init() {
	for id := 105; id <= 127; id++ {
		use := "Reserved ISO Use"
		switch {
		case id >= 120:
			use = "Reserved Private Use"
		case id >= 112:
			use = "Reserved National Use"
		}
		iso87Fields = append(iso87Fields, row{id, kLLLChar, 999, use})
	}
	register(buildDialect(ISO87ASCII,
		"ISO 8583:1987, ASCII numerics and length prefixes, hex-text bitmap and binary fields (jPOS ISO87APackager)",
		iso87Fields, asciiLayout, asciiHead, 0, iso87Requirements))
	register(buildDialect(ISO87ASCIIBBitmap,
		"ISO 8583:1987, ASCII as iso87ascii but the bitmap as 8 raw bytes (jPOS ISO87APackagerBBitmap)",
		iso87Fields, asciiLayout, asciiBBitmapHead, 0, iso87Requirements))
	register(buildDialect(ISO87Binary,
		"ISO 8583:1987, BCD numerics and length prefixes, raw bitmap and binary fields (jPOS ISO87BPackager)",
		iso87Fields, binaryLayout, binaryHead, 0, iso87Requirements))
	register(buildDialect(CUPPOS,
		"China UnionPay POS terminal layout: BCD numerics, raw binary, UnionPay fields 60-63; TPDU and 6-byte header",
		cupFields, binaryLayout, binaryHead, CUPHeaderLen, cupRequirements))
}

// CUPHeaderLen is the size of the China UnionPay POS message header
// (application type, software version, terminal status, processing request,
// reserved), which follows the TPDU and precedes the MTI.
const CUPHeaderLen = 6

// cupFields is the China UnionPay POS terminal field layout. Variable numeric
// fields are left-aligned BCD; field 22 is left-aligned, 23 right-aligned.
var cupFields = []row{
	{2, kLLNum, 19, "Primary Account Number"},
	{3, kNum, 6, "Processing Code"},
	{4, kNum, 12, "Amount, Transaction"},
	{11, kNum, 6, "Systems Trace Audit Number"},
	{12, kNum, 6, "Time, Local Transaction"},
	{13, kNum, 4, "Date, Local Transaction"},
	{14, kNum, 4, "Date, Expiration"},
	{15, kNum, 4, "Date, Settlement"},
	{22, kNumLeft, 3, "Point of Service Entry Mode"},
	{23, kNum, 3, "Card Sequence Number"},
	{25, kNum, 2, "Point of Service Condition Code"},
	{26, kNum, 2, "Point of Service PIN Capture Code"},
	{32, kLLNum, 11, "Acquiring Institution Identification Code"},
	{35, kLLTrack, 37, "Track 2 Data"},
	{36, kLLLTrack, 104, "Track 3 Data"},
	{37, kChar, 12, "Retrieval Reference Number"},
	{38, kChar, 6, "Authorization Identification Response"},
	{39, kChar, 2, "Response Code"},
	{41, kChar, 8, "Card Acceptor Terminal Identification"},
	{42, kChar, 15, "Card Acceptor Identification Code"},
	{44, kLLChar, 25, "Additional Response Data"},
	{48, kLLLNum, 322, "Additional Data - Private"},
	{49, kChar, 3, "Currency Code, Transaction"},
	{52, kBin, 8, "PIN Data"},
	{53, kNum, 16, "Security Related Control Information"},
	{54, kLLLChar, 20, "Balance Amount"},
	{55, kEMV, 255, "ICC System Related Data"},
	{58, kLLLChar, 100, "PBOC Electronic Data"},
	{59, kLLLChar, 600, "Reserved Private"},
	{60, kLLLNum, 17, "Reserved Private: type code, batch, network management code"},
	{61, kLLLNum, 29, "Original Message: batch, trace number, date"},
	{62, kLLLBin, 512, "Reserved Private: keys and terminal data"},
	{63, kLLLChar, 163, "Reserved Private: operator and card organisation"},
	{64, kBin, 8, "Message Authentication Code"},
}

// iso87Requirements are the mandatory fields of ISO 8583:1987 message classes.
var iso87Requirements = []Requirement{
	{MTI: "010.", All: []int{3, 11, 41}, OneOf: []int{2, 35}},
	{MTI: "012.", All: []int{3, 11, 41}, OneOf: []int{2, 35}},
	{MTI: "020.", All: []int{3, 11, 41}, OneOf: []int{2, 35}},
	{MTI: "022.", All: []int{3, 11, 41}, OneOf: []int{2, 35}},
	{MTI: "040.", All: []int{3, 4, 11, 41, 90}},
	{MTI: "042.", All: []int{3, 4, 11, 41, 90}},
	{MTI: "080.", All: []int{11, 70}},
	{MTI: "..1.", All: []int{39}},
	{MTI: "..3.", All: []int{39}},
}

// cupRequirements: UnionPay terminals identify themselves by 41 and 42 and
// carry the message type code and batch in 60; reversals name no field 90.
var cupRequirements = []Requirement{
	{MTI: "010.", All: []int{3, 11, 41, 42, 60}, OneOf: []int{2, 35}},
	{MTI: "020.", All: []int{3, 11, 41, 42, 60}, OneOf: []int{2, 35}},
	{MTI: "040.", All: []int{3, 4, 11, 41, 42, 60}},
	{MTI: "080.", All: []int{11, 41, 42, 60}},
	{MTI: "..1.", All: []int{39}},
	{MTI: "..3.", All: []int{39}},
}

// layout maps a field shape to its moov field and content class in one family
// of dialects.
type layout func(r row) (field.Field, Class)

func str(r row, enc encoding.Encoder, pref prefix.Prefixer, pad padding.Padder) field.Field {
	return field.NewString(&field.Spec{Length: r.length, Description: r.desc, Enc: enc, Pref: pref, Pad: pad})
}

func bin(r row, enc encoding.Encoder, pref prefix.Prefixer) field.Field {
	return field.NewBinary(&field.Spec{Length: r.length, Description: r.desc, Enc: enc, Pref: pref})
}

func asciiLayout(r row) (field.Field, Class) {
	switch r.k {
	case kNum, kNumLeft:
		return str(r, encoding.ASCII, prefix.ASCII.Fixed, padding.Left('0')), ClassN
	case kLLNum:
		return str(r, encoding.ASCII, prefix.ASCII.LL, nil), ClassN
	case kLLLNum:
		return str(r, encoding.ASCII, prefix.ASCII.LLL, nil), ClassN
	case kChar:
		return str(r, encoding.ASCII, prefix.ASCII.Fixed, padding.Right(' ')), ClassANS
	case kLLChar:
		return str(r, encoding.ASCII, prefix.ASCII.LL, nil), ClassANS
	case kLLLChar:
		return str(r, encoding.ASCII, prefix.ASCII.LLL, nil), ClassANS
	case kEMV:
		return str(r, encoding.ASCII, prefix.ASCII.LLL, nil), ClassANSB
	case kLLTrack:
		return str(r, encoding.ASCII, prefix.ASCII.LL, nil), ClassZ
	case kLLLTrack:
		return str(r, encoding.ASCII, prefix.ASCII.LLL, nil), ClassZ
	case kBin:
		return bin(r, encoding.BytesToASCIIHex, prefix.ASCII.Fixed), ClassB
	case kLLLBin:
		return bin(r, encoding.BytesToASCIIHex, prefix.ASCII.LLL), ClassB
	case kAmount:
		return str(r, encoding.ASCII, prefix.ASCII.Fixed, nil), ClassAmount
	}
	panic("codec: unknown field shape")
}

func binaryLayout(r row) (field.Field, Class) {
	switch r.k {
	case kNum:
		return str(r, encoding.BCD, prefix.BCD.Fixed, padding.Left('0')), ClassN
	case kNumLeft:
		return str(r, encoding.LBCD, prefix.BCD.Fixed, padding.Left('0')), ClassN
	case kLLNum:
		return str(r, encoding.LBCD, prefix.BCD.LL, nil), ClassN
	case kLLLNum:
		return str(r, encoding.LBCD, prefix.BCD.LLL, nil), ClassN
	case kChar:
		return str(r, encoding.ASCII, prefix.ASCII.Fixed, padding.Right(' ')), ClassANS
	case kLLChar:
		return str(r, encoding.ASCII, prefix.BCD.LL, nil), ClassANS
	case kLLLChar:
		return str(r, encoding.ASCII, prefix.BCD.LLL, nil), ClassANS
	case kLLTrack:
		return str(r, Track2BCD, prefix.BCD.LL, nil), ClassZ
	case kLLLTrack:
		return str(r, Track2BCD, prefix.BCD.LLL, nil), ClassZ
	case kBin:
		return bin(r, encoding.Binary, prefix.Binary.Fixed), ClassB
	case kLLLBin, kEMV:
		return bin(r, encoding.Binary, prefix.BCD.LLL), ClassB
	case kAmount:
		return str(r, AmountBCD, prefix.BCD.Fixed, nil), ClassAmount
	}
	panic("codec: unknown field shape")
}

// head is how a dialect carries the MTI and the bitmap.
type head struct{ mtiBCD, bitmapHex bool }

var (
	asciiHead        = head{mtiBCD: false, bitmapHex: true}  // ISO87APackager
	asciiBBitmapHead = head{mtiBCD: false, bitmapHex: false} // ISO87APackagerBBitmap
	binaryHead       = head{mtiBCD: true, bitmapHex: false}  // ISO87BPackager
)

func buildDialect(name, desc string, rows []row, lay layout, h head, headerLen int, reqs []Requirement) (*Dialect, error) {
	spec := &iso8583.MessageSpec{Name: name, Fields: map[int]field.Field{}}
	classes := map[int]Class{}
	if h.mtiBCD {
		spec.Fields[0] = field.NewString(&field.Spec{Length: 4, Description: "Message Type Indicator", Enc: encoding.BCD, Pref: prefix.BCD.Fixed})
	} else {
		spec.Fields[0] = field.NewString(&field.Spec{Length: 4, Description: "Message Type Indicator", Enc: encoding.ASCII, Pref: prefix.ASCII.Fixed})
	}
	if h.bitmapHex {
		spec.Fields[1] = field.NewBitmap(&field.Spec{Length: 8, Description: "Bitmap", Enc: encoding.BytesToASCIIHex, Pref: prefix.Hex.Fixed})
	} else {
		spec.Fields[1] = field.NewBitmap(&field.Spec{Length: 8, Description: "Bitmap", Enc: encoding.Binary, Pref: prefix.Binary.Fixed})
	}
	for _, r := range rows {
		f, class := lay(r)
		spec.Fields[r.id] = f
		classes[r.id] = class
	}
	d, err := Compile(name, desc, spec, headerLen, classes)
	if err != nil {
		return nil, err
	}
	d.Requirements = reqs
	return d, nil
}
