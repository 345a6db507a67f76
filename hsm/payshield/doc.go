// Package payshield speaks the Thales payShield host-command protocol: a
// Client that implements hsm.Service against a real (or simulated)
// payShield, and a Server that simulates one over the hsm package's
// software primitives with a variant LMK.
//
// # Wire format
//
// TCP; every message is a 2-byte big-endian length, a header of HeaderLen
// ASCII characters (default 4) that the HSM echoes, a 2-character command
// code and the fields. The reply's code is the command's with the second
// character incremented (NC -> ND, CA -> CB), then a 2-character error
// code ("00" ok, "01" verification failure, "10"/"11" source/destination
// key parity, "15" invalid input, "68" command disabled, ...), then the
// reply fields. The client puts a decimal request counter in the header,
// so many commands can be in flight on one connection and replies may
// come back in any order.
//
// # Commands
//
// Keys are "16H or 1A+32H" cryptograms under the LMK (Z, U, X, T, Y tags).
//
//	NC  -> ND  LMK check (16H), firmware (9A)
//	CA  TPK, ZPK, max PIN length 2N, PIN block 16H, src format 2N,
//	    dst format 2N, account 12N -> CB PIN length 2N, PIN block 16H, format 2N
//	CC  as CA with a source ZPK -> CD
//	G0  BDK 1A+32H, ZPK, KSN descriptor 3H, KSN 20H, PIN block 16H, src format,
//	    dst format, account 12N -> G1 as CB (simulator only)
//	KQ  mode 1N (0 verify, 1 verify + ARPC, 2 ARPC), scheme 1N (0 VSDC CVN 10,
//	    1 M/Chip CVN 16/17), MK-AC (109), PAN/PSN 8B, ATC 2B, UN 4B [, data
//	    length 2H, data nB, ";"], ARQC 8B [, ARC 2B] -> KR [ARPC 8B]; B = raw bytes
//	DC  TPK, PVK pair, PIN block 16H, format 2N, account 12N, PVKI 1N, PVV 4N -> DD
//	EC  as DC with a ZPK -> ED
//	DA  TPK, PVK, max PIN length 2N, PIN block 16H, format 2N, check length 2N,
//	    account 12N, decimalisation table 16N, validation data 12A (N = last
//	    5 account digits), offset 12H -> DB
//	EA  as DA with a ZPK -> EB
//	M6  mode 1N (0), input format 1N (0 binary, 1 hex), MAC size 1N (0 8H,
//	    1 16H), algorithm 1N (1, 3, 5 CMAC), padding 1N (0-3), key type 3H
//	    (003/008), key, length 4H, data -> M7 MAC
//	M8  as M6, then the MAC -> M9 (01 = mismatch)
//	MA  TAK, data -> MB MAC 8H;  MC TAK, MAC 8H, data -> MD (simulator only)
//	A0  mode 1H, key type 3H, scheme 1A [, ;ZMK/TMK flag 1N, ZMK/TMK,
//	    scheme 1A] -> A1 key under LMK [, key under ZMK/TMK], KCV 6H
//	A6  key type 3H, ZMK, key under ZMK, scheme 1A -> A7 key, KCV 6H (simulator only)
//	FA  ZMK, ZPK under ZMK -> FB ZPK under LMK, KCV 16H (simulator only)
//	BU  key type code 2H (FF: ;type 3H after the key), length flag 1N, key -> BV KCV 16H
//
// The client maps hsm.Service calls by key type: a TPK (002) PIN key uses
// the terminal commands (CA, DA, DC), a ZPK (001) the interchange ones
// (CC, EA, EC). HSM errors are *Error values that unwrap to the meaning of
// their code, so errors.Is(err, hsm.ErrPINMismatch) and
// errors.Is(err, hsm.ErrMACMismatch) work as with hsm.Soft; a KQ "01" is
// hsm.ErrARQCMismatch. KQ cannot express Visa CVN 18 (EMV common session
// key, ARPC method 2: that is KW), so the client refuses it with ErrUnsupported.
//
// # Use
//
//	c, err := payshield.NewClient(payshield.Config{Addr: "10.0.0.5:1500", Conns: 4, Timeout: time.Second})
//	if err != nil { ... }
//	defer c.Close()
//	err = c.VerifyPIN(ctx, hsm.PINCheck{
//		PINKey: hsm.KeyRef{Type: hsm.KeyTypeTPK, Cryptogram: "U8463435FC4B4DAA0C49025272C29B12C"},
//		Format: hsm.ISO0, Block: block, PAN: pan,
//		PVV:    &hsm.PVVData{PVK: pvk, PVKI: 1, PVV: "4402"},
//	})
//	switch {
//	case errors.Is(err, hsm.ErrPINMismatch): // 55
//	case errors.Is(err, payshield.ErrTimeout): // 91; the HSM may have executed it
//	case err != nil: // 96
//	}
//
// A simulator for tests and load runs:
//
//	s, _ := payshield.NewServer(payshield.ServerConfig{}) // test LMK
//	ln, _ := net.Listen("tcp", "127.0.0.1:1500")
//	go s.Serve(ln)
//	defer s.Close()
//
// or payshield.ListenAndServe(ctx, "127.0.0.1:1500", payshield.ServerConfig{}).
//
// # Bounds
//
// Every command is bounded by its context deadline or Config.Timeout,
// whichever is earlier, dial and queueing included. A command that times
// out after its request was written leaves its counter reserved until the
// late reply arrives, so a late reply is never delivered to another
// command; if nothing at all was read on the connection since the request
// was sent, the connection is closed and the next command redials. A
// command whose connection breaks is retried once on a new connection.
package payshield
