package payshield

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/cardswitch/cardswitch/hsm"
)

// KQ vectors: EMV_VECTORS.md §4.1 (K1-K5, constructed from jPOS's
// published V10-2 and M16-2 values under the Thales test LMK; no payShield
// run backs them, as that file says) and the §1.3-1.5 cryptogram vectors
// sent through the client to the simulator.

// mkacU is jPOS's IMK 1334...5779 under the test LMK, key type 109.
var mkacU = hsm.KeyRef{Type: hsm.KeyTypeMKAC, Cryptogram: "U0D39A43C864D1B40F33998B80BB02C95"}

// kqD is the 39 bytes of transaction data of V10-2 and M16-2 (jPOS).
const kqD = "000000010000000000001000084000000010800840980704001111111158003456A08003242000"

// kqHead is the K1-K5 request from the command code to the UN, with the
// mode and scheme left out: MK-AC, PAN/PSN 3456789012345600, ATC 3456, UN 11111111.
const kqHead = "553044333941343343383634443142343046333339393842383042423032433935" + "3456789012345600" + "3456" + "11111111"

// TestKQVectors sends the K1-K5 request bodies to the simulator and checks
// the exact replies.
func TestKQVectors(t *testing.T) {
	_, addr := startServer(t, ServerConfig{})
	rc := dialRaw(t, addr)
	tests := []struct{ name, req, want string }{
		{"K1 mode 1 scheme 0", "4B51" + "3130" + kqHead + "3237" + kqD + "3B" + "26C8A1042D1CAF3E" + "3030", "4B523030" + "98DE7C7B3D80A831"},
		{"K2 mode 1 scheme 1, host's 80", "4B51" + "3131" + kqHead + "3238" + kqD + "80" + "3B" + "AC8074C9E62EE6EF" + "0012", "4B523030" + "5B5B712F9A644774"},
		{"K3 mode 2 scheme 1", "4B51" + "3231" + kqHead + "AC8074C9E62EE6EF" + "0012", "4B523030" + "5B5B712F9A644774"},
		{"K4 mode 0, ARQC changed", "4B51" + "3030" + kqHead + "3237" + kqD + "3B" + "26C8A1042D1CAF3F", "4B523031"},
		{"K4 unchanged verifies", "4B51" + "3030" + kqHead + "3237" + kqD + "3B" + "26C8A1042D1CAF3E", "4B523030"},
		{"K5 the host forgot the 80", "4B51" + "3031" + kqHead + "3237" + kqD + "3B" + "AC8074C9E62EE6EF", "4B523031"},
		{"K5 what the zero-padding HSM accepts", "4B51" + "3031" + kqHead + "3237" + kqD + "3B" + "9FFD1D52AE0EC0F3", "4B523030"},
		// malformed requests get the KQ error codes
		{"mode 5", "4B51" + "3530" + kqHead, "4B523034"},
		{"scheme 2", "4B51" + "3032" + kqHead, "4B523035"},
		{"zero-length data", "4B51" + "3030" + kqHead + "3030" + "3B" + "26C8A1042D1CAF3E", "4B523831"},
		{"length not hex", "4B51" + "3030" + kqHead + "3247" + kqD + "3B" + "26C8A1042D1CAF3E", "4B523830"},
		{"length past the end", "4B51" + "3030" + kqHead + "3846" + kqD, "4B523830"},
		{"no delimiter", "4B51" + "3030" + kqHead + "3237" + kqD + "26C8A1042D1CAF3E", "4B523135"},
		{"bytes left over", "4B51" + "3030" + kqHead + "3237" + kqD + "3B" + "26C8A1042D1CAF3E" + "00", "4B523135"},
		{"cut in the ARQC", "4B51" + "3030" + kqHead + "3237" + kqD + "3B" + "26C8A1", "4B523135"},
		{"cut after the mode", "4B51" + "30", "4B523135"},
		{"MK-AC parity", "4B51" + "3030" + "553044333941343343383634443142343046333339393842383042423032433934" + kqHead[66:] + "3237" + kqD + "3B" + "26C8A1042D1CAF3E", "4B523130"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc.t = t
			hdr := string(appendNum(nil, i, 4))
			got := rc.send(hdr, unhexS(t, tc.req))
			if want := unhexS(t, tc.want); got != want {
				t.Errorf("reply %X, want %s", got, tc.want)
			}
		})
	}
}

// TestKQFrame checks the client's KQ encoding against the documented
// layout: K2's request body from M16-2's data, and K1's full frame (2-byte
// length, header 0000) exactly as §4.1 prints it, built from V10-2's
// fields (its data is jPOS's 39 bytes, which no CVN 10 IAD yields, so the
// frame is assembled around the encoder's fixed part).
func TestKQFrame(t *testing.T) {
	chk := m162(t)
	chk.ARPC = &hsm.ARPCData{ARC: [2]byte{0x00, 0x12}}
	got, err := appendKQ(nil, mkacU, &chk)
	if err != nil {
		t.Fatal(err)
	}
	want := "3131" + kqHead + "3238" + kqD + "80" + "3B" + "AC8074C9E62EE6EF" + "0012"
	if hex.EncodeToString(got) != hex.EncodeToString(mustHex(want)) {
		t.Errorf("K2 request\n got %X\nwant %s", got, want)
	}
	chk.ARPC = nil
	got, _ = appendKQ(nil, mkacU, &chk)
	if want := "3031" + kqHead + "3238" + kqD + "80" + "3B" + "AC8074C9E62EE6EF"; !bytes.Equal(got, mustHex(want)) {
		t.Errorf("mode 0 request\n got %X\nwant %s", got, want)
	}

	// K1: the client's call framing around the documented fields
	c := &Client{cfg: Config{HeaderLen: 4, FrameBytesMax: frameBytesDefault}}
	c.calls.New = func() any { return new(call) }
	cl := c.newCall("KQ")
	cl.req = append(cl.req, mustHex("3130"+kqHead+"3237"+kqD+"3B"+"26C8A1042D1CAF3E"+"3030")...)
	if !putLength(cl.req, c.cfg.FrameBytesMax) {
		t.Fatal("putLength")
	}
	const k1Frame = "006B303030304B51313055304433394134334338363444314234304633333939384238304242303243393534567890123456003456111111113237000000010000000000001000084000000010800840980704001111111158003456A080032420003B26C8A1042D1CAF3E3030"
	if !bytes.Equal(cl.req, mustHex(k1Frame)) {
		t.Errorf("K1 frame\n got %X\nwant %s", cl.req, k1Frame)
	}
	// and the simulator's reply to it, byte for byte
	_, addr := startServer(t, ServerConfig{})
	rc := dialRaw(t, addr)
	if _, err := rc.c.Write(cl.req); err != nil {
		t.Fatal(err)
	}
	reply := rc.read("0000")
	if wantReply := mustHex("0010303030304B52303098DE7C7B3D80A831")[6:]; reply != string(wantReply) {
		t.Errorf("K1 reply %X, want %X", reply, wantReply)
	}
}

// cdol builds EMVData from the 33 CDOL1 bytes (9F02 9F03 9F1A 95 5F2A 9A
// 9C 9F37 82 9F36) and the IAD, both hex.
func cdol(t testing.TB, data, iad string) hsm.EMVData {
	t.Helper()
	b := mustHex(data)
	if len(b) != 33 {
		t.Fatalf("CDOL1 data of %d bytes", len(b))
	}
	var d hsm.EMVData
	for _, f := range [][]byte{d.Amount[:], d.AmountOther[:], d.TermCountry[:], d.TVR[:], d.Currency[:], d.Date[:]} {
		b = b[copy(f, b):]
	}
	d.TxnType, b = b[0], b[1:]
	for _, f := range [][]byte{d.UN[:], d.AIP[:], d.ATC[:]} {
		b = b[copy(f, b):]
	}
	d.IAD = mustHex(iad)
	return d
}

// m162 is EMV_VECTORS.md §1.5 M16-2 (jPOS testVerifyARQCImpl_MCHIP_P80),
// with an IAD around jPOS's CVR.
func m162(t testing.TB) hsm.ARQCCheck {
	return hsm.ARQCCheck{
		CVN: hsm.MChipCVN16, PAN: "1234567890123456", PSN: 0x00,
		Data: cdol(t, kqD[:66], "0110A08003242000000000000000000000FF"),
		ARQC: [8]byte(mustHex("AC8074C9E62EE6EF")),
	}
}

// TestClientVerifyARQC sends the cryptogram vectors through the client to
// the simulator and the software HSM and checks both give the vectors'
// ARPCs, that a wrong ARQC is hsm.ErrARQCMismatch from both, and that
// Visa CVN 18 is refused before anything is sent.
func TestClientVerifyARQC(t *testing.T) {
	c, soft := newPair(t, Config{})
	ctx := t.Context()
	lmk := hsm.ThalesTestLMK()
	imk0123, _ := hsm.ParseTDESKey("0123456789ABCDEFFEDCBA9876543210", hsm.ParityIgnore)
	raw := hsm.RevealKey(imk0123)
	hsm.FixParity(raw)
	imk0123, _ = hsm.NewTDESKey(raw, hsm.ParityOdd)
	cg, err := lmk.EncryptKey(hsm.KeyTypeMKAC, hsm.SchemeU, imk0123)
	if err != nil {
		t.Fatal(err)
	}
	mkac0123 := hsm.KeyRef{Type: hsm.KeyTypeMKAC, Cryptogram: cg}
	const m161Data = "0000000099990000000000000124800000000001242099060" + "0ABCDEF121800001C"
	tests := []struct {
		name, source string
		imk          hsm.KeyRef
		chk          hsm.ARQCCheck
		arc, arpc    string
	}{
		{"V10-1", "pyemv test_visa_cvn10", mkac0123, hsm.ARQCCheck{CVN: hsm.VisaCVN10, PAN: "1234567890123456",
			Data: cdol(t, "0000000040000000000000000124800004800001241911050152BF45851800001C", "06010A03A06010"), ARQC: [8]byte(mustHex("29CCA15AE665FA2E"))},
			"3030", "28993816AFAE4AEB"},
		{"V10-3", "EMV_VECTORS.md V10-3 (constructed)", mkac0123, hsm.ARQCCheck{CVN: hsm.VisaCVN10, PAN: "4761739001010010", PSN: 0x01,
			Data: cdol(t, "00000000010000000000000008400000000000084018123101ABCDEF1018000002", "06010A03000000"), ARQC: [8]byte(mustHex("082044A7C7262817"))},
			"3035", "7FF8E5460C83A1C4"},
		{"M16-1", "pyemv test_mastercard_cvn16", mkac0123, hsm.ARQCCheck{CVN: hsm.MChipCVN16, PAN: "1234567890123456",
			Data: cdol(t, m161Data, "0110A00003220000000000000000000000FF"), ARQC: [8]byte(mustHex("24CCF3DEE3158C70"))},
			"0010", "73F6BBF389A6586C"},
		{"M16-2", "jPOS testVerifyARQCImpl_MCHIP_P80", mkacU, m162(t), "0012", "5B5B712F9A644774"},
		{"M17-1", "pyemv test_mastercard_cvn17", mkac0123, hsm.ARQCCheck{CVN: hsm.MChipCVN17, PAN: "1234567890123456",
			Data: cdol(t, m161Data, "0111A00003220000000000000000000322FF"), ARQC: [8]byte(mustHex("EAE8A620A75648D8"))},
			"0010", "29CF11FBDB9CA650"},
		{"M17-2", "EMV_VECTORS.md M17-2 (constructed)", mkacU, hsm.ARQCCheck{CVN: hsm.MChipCVN17, PAN: "1234567890123456",
			Data: cdol(t, kqD[:66], "0111A08003242000000000000000000000FF"), ARQC: [8]byte(mustHex("A97785F58BE3B38E"))},
			"0012", "20D2E9B2CCADF012"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Logf("source: %s", tc.source)
			chk := tc.chk
			if got, err := c.VerifyARQC(ctx, tc.imk, chk); err != nil || got != nil {
				t.Fatalf("mode 0: %X %v", got, err)
			}
			chk.ARPC = &hsm.ARPCData{ARC: [2]byte(mustHex(tc.arc))}
			got, err := c.VerifyARQC(ctx, tc.imk, chk)
			if err != nil || hex.EncodeToString(got) != hex.EncodeToString(mustHex(tc.arpc)) {
				t.Errorf("ARPC %X %v, want %s", got, err, tc.arpc)
			}
			sg, err := soft.VerifyARQC(ctx, tc.imk, chk)
			if err != nil || !bytes.Equal(sg, got) {
				t.Errorf("software HSM ARPC %X %v", sg, err)
			}
			chk.ARQC[3] ^= 0x10
			_, err = c.VerifyARQC(ctx, tc.imk, chk)
			_, serr := soft.VerifyARQC(ctx, tc.imk, chk)
			if !errors.Is(err, hsm.ErrARQCMismatch) || !errors.Is(serr, hsm.ErrARQCMismatch) {
				t.Errorf("a wrong ARQC: client %v, software %v", err, serr)
			}
		})
	}
	v18 := hsm.ARQCCheck{CVN: hsm.VisaCVN18, PAN: "1234567890123456",
		Data: cdol(t, "0000000040000000000000000124800004800001241911050152BF45851800001C", "06011203A0B800")}
	if _, err := c.VerifyARQC(ctx, mkac0123, v18); !errors.Is(err, ErrUnsupported) || !errors.Is(err, hsm.ErrCVN) {
		t.Errorf("CVN 18 over KQ: %v, want ErrUnsupported", err)
	}
	if _, err := c.VerifyARQC(ctx, hsm.KeyRef{Type: hsm.KeyTypeZPK, Cryptogram: mkacU.Cryptogram}, m162(t)); !errors.Is(err, hsm.ErrKeyType) {
		t.Errorf("a ZPK as the MK-AC: %v", err)
	}
	bad := m162(t)
	bad.Data.IAD = mustHex("0111")
	if _, err := c.VerifyARQC(ctx, mkacU, bad); !errors.Is(err, hsm.ErrEMVData) {
		t.Errorf("a short IAD: %v", err)
	}
}

// TestKQErrorCodes: KQ's own codes unwrap to their meaning.
func TestKQErrorCodes(t *testing.T) {
	for code, want := range map[string]error{"01": hsm.ErrARQCMismatch, "05": hsm.ErrCVN, "80": hsm.ErrEMVData, "81": hsm.ErrEMVData, "04": ErrHSM, "10": hsm.ErrKeyParity} {
		if err := (&Error{Command: "KQ", Code: code}); !errors.Is(err, want) {
			t.Errorf("KQ %s: %v, want %v", code, err, want)
		}
	}
}
