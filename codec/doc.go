// Package codec reads and writes ISO 8583 messages in the dialects the
// switch speaks, frames them on the wire, and shows them to people.
//
// A Dialect is a message layout compiled from a moov-io/iso8583 MessageSpec:
// iso87ascii, iso87ascii-bbitmap and iso87binary (byte-compatible with jPOS's
// ISO87APackager, ISO87APackagerBBitmap and ISO87BPackager), cup-pos (China UnionPay POS, with its 6-byte header), or
// any moov JSON spec loaded with LoadJSON. The moov spec stays attached
// (Dialect.Spec) as the reference the tests compare against.
//
// The hot path allocates nothing. Framing.Next cuts a frame from a buffer,
// Dialect.Decode fills a View with offsets into the frame, the accessors
// read what a switch needs (PAN, amounts, STAN, PIN block, MAC, EMV TLVs),
// and a Builder appends the reply into a caller's buffer:
//
//	fr, n, err := framing.Next(buf)        // ErrNeedMore: wait for bytes
//	var v codec.View
//	if err := d.Decode(&v, fr.Msg); err != nil { /* *FieldError: answer 30 */ }
//	if err := v.Validate(); err != nil { /* mandatory field missing */ }
//	var b codec.Builder
//	b.Begin(d, out[:0], v.MTI().Response(), v.Header())
//	b.Copy(&v, codec.FieldSTAN)
//	b.String(codec.FieldResponseCode, "00")
//	reply, err := b.Finish()
//
// Errors name the field and the reason (*FieldError wrapping one of the
// sentinels), so the engine can answer response code 30 and log precisely.
// Message, Encode, ToMessage and Describe are the text forms for tools;
// MaskPAN and MaskField keep card data out of what people see.
package codec
