// Package emv reads and writes EMV ICC data: the BER-TLV data objects a
// chip or contactless card and its terminal put in ISO 8583 field 55
// (EMV 4.x Book 3 Annex B), such as the ARQC (9F26), the ATC (9F36) and
// the issuer application data (9F10), and the ARPC (91) an issuer returns.
//
// It is part of the message layer, beside codec: it knows how field 55 is
// laid out, not what the cryptograms mean. The hsm package, which checks
// them, takes the values as fixed-size data elements and never parses a
// message; the engine (or a tool) copies them from an ICC view into an
// hsm request. codec/emv imports only the standard library.
//
// Parsing is strict and allocates nothing: ICC.Parse fills a fixed-size
// view with offsets into the caller's bytes and refuses, with an *Error
// that names the tag and the byte offset, anything a well-formed field 55
// would not hold: a tag or length cut short, a value running past the end,
// a length in more bytes than it needs (81 05), an indefinite or 3-byte
// length, a tag that appears twice in the same template, a known tag with
// a value of the wrong size (9F26 must be 8 bytes), too many objects or
// templates nested too deep.
//
//	var icc emv.ICC
//	if err := icc.Parse(field55); err != nil { /* format error: answer 30 */ }
//	arqc, ok := icc.Get(emv.TagARQC) // 8 bytes
//
// AppendTLV builds data objects, for the ARPC in a reply's field 55 and
// for test data:
//
//	out, err := emv.AppendTLV(out, emv.TagARPCResponse, append(arpc, arc...))
package emv
