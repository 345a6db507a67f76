// Package hsm holds the cryptographic primitives of the switch's HSM layer:
// PIN blocks, PIN verification, MACs, DUKPT, key check values, TR-31 key
// blocks and the Thales variant LMK. It uses only the standard library's
// crypto, allocates little, never logs, and never prints a key or a PIN:
// Key, PIN and VariantLMK format themselves redacted (a Key shows its KCV).
//
// What is here, with the standard each follows:
//
//   - Keys: NewTDESKey / ParseTDESKey (8, 16, 24 bytes; odd parity checked
//     on request, FixParity to adjust), NewAESKey / ParseAESKey (16, 24, 32).
//   - Key check values: Key.CheckValue with an explicit KCVMethod (zero
//     block for TDES and legacy AES, CMAC for AES per X9.24-1:2017).
//   - PIN blocks (ISO 9564-1 formats 0, 1, 2, 3 and the AES format 4;
//     Thales 03 Diebold/IBM and 04 PLUS): EncodePINBlock, DecodePINBlock,
//     EncryptPINBlock, DecryptPINBlock, TranslatePINBlock.
//   - PIN verification: GeneratePVV / VerifyPVV (Visa PVV) and IBM3624
//     (natural PIN, offset, Thales validation data with N).
//   - MACs: GenerateMAC / VerifyMAC with ISO 9797-1 algorithms 1 and 3
//     (ANSI X9.9, X9.19) and padding methods 1-3, CMAC (AES and TDES), and
//     the China UnionPay POS MAC. Verification is constant time.
//   - DUKPT: TDES (ANSI X9.24-1:2009: DUKPTIPEK, DUKPTTransactionKey,
//     DUKPTVariantKey, DUKPTKey) and AES (X9.24-3:2017: AESDUKPTInitialKey,
//     AESDUKPTTransactionKey, AESDUKPTWorkingKey, AESDUKPTKey).
//   - TR-31 / ANSI X9.143: UnwrapKeyBlock for versions A, B, C and D;
//     WrapKeyBlock for B and D (derivation binding; A and C are read-only).
//   - EMV application cryptograms (EMV 4.x Book 2 A1.3, A1.4, section 8):
//     ICCMasterKey (options A and B), EMVSessionKey (EMV common session key
//     and the Mastercard SKD), AppendARQCInput and ApplicationCryptogram for
//     Visa CVN 10 and 18 and M/Chip CVN 16 and 17, VerifyARQC (constant
//     time), ARPCMethod1 and ARPCMethod2.
//   - Thales variant LMK: VariantLMK.DecryptKey / EncryptKey by key type
//     code and scheme (Z, U, T, X, Y, untagged), ThalesTestLMK, and keys
//     under a ZMK (DecryptUnderZMK, EncryptUnderZMK).
//
// Every failure is an error value wrapping one of the Err sentinels in
// errors.go; malformed input never panics. Functions take PIN blocks, key
// objects and PANs, never ISO 8583 messages.
//
// Verifying a PIN from a terminal against a Visa PVV, with keys stored
// under the LMK:
//
//	lmk := hsm.ThalesTestLMK() // tests only; load the real set from config
//	tpk, err := lmk.DecryptKey(hsm.KeyTypeTPK, "U8463435FC4B4DAA0C49025272C29B12C")
//	pvk, err := lmk.DecryptKey(hsm.KeyTypePVK, "X367930344805B1FAD6146EF4ED7502B3")
//	pin, err := hsm.DecryptPINBlock(tpk, hsm.ISO0, block, pan)
//	if err != nil { /* bad block or key: answer 55 or 96 by error kind */ }
//	if err := hsm.VerifyPVV(pvk, pan, 1, pin, pvv); errors.Is(err, hsm.ErrPINMismatch) { /* 55 */ }
//
// Translating a DUKPT PIN block to a zone PIN key and checking a MAC:
//
//	pinKey, err := hsm.DUKPTKey(bdk, ksn, hsm.DUKPTPIN)
//	out, err := hsm.TranslatePINBlock(pinKey, hsm.ISO0, zpk, hsm.ISO0, block, pan, nil)
//	err = hsm.VerifyMAC(zak, hsm.MACISO9797Alg3, hsm.MACPadding1, mab, mac[:4])
//
// Verifying an ARQC from field 55 and making the ARPC for tag 91:
//
//	imk, err := lmk.DecryptKey(hsm.KeyTypeMKAC, "U0D39A43C864D1B40F33998B80BB02C95")
//	c := hsm.ARQCCheck{CVN: hsm.MChipCVN16, PAN: pan, PSN: psn, Data: data, ARQC: arqc,
//		ARPC: &hsm.ARPCData{ARC: [2]byte{'0', '0'}}}
//	arpc, err := hsm.VerifyARQC(imk, &c) // errors.Is(err, hsm.ErrARQCMismatch): decline
//
// Unwrapping a TR-31 key block:
//
//	key, hdr, err := hsm.UnwrapKeyBlock(kbpk, "D0112P0AE00E0000B826...")
//	// hdr.Usage == "P0", hdr.Algorithm == 'A', key.KCV() == "08793E"
//
// Known-answer tests for all of it come from the HSM_VECTORS.md file the
// project keeps with its shared vectors; each test names the rows it covers.
package hsm
