package engine

import "github.com/cardswitch/cardswitch/codec"

// checkMTI says whether the switch serves mti as a request from a terminal
// or an acquirer, and if not, how to refuse it. Only ISO 8583:1987 MTIs
// (version 0) with a defined origin are messages of the switch's dialects:
// anything else (1200 or 9200 from another version, origin 6-9 as in 0208)
// is a format error. Defined but not served (an 0120 authorization advice,
// issuer-originated 0202, 0300 file actions) is an invalid transaction:
// before this check they were read by class alone, so 1200 and 0208 were
// approved as purchases and 0120 placed a hold. Reconciliation requests
// and advices (0500, 0520, and their repeats) are served (settle.go);
// 0320 only where it is UnionPay's batch upload (batchUpload). Pure: no
// I/O, no state.
func checkMTI(m codec.MTI, batchUpload bool) error {
	if m[0] != '0' || m[3] < '0' || m[3] > '5' {
		return ErrFormat
	}
	if m[3] > '1' { // issuer or other origin: not what an acquirer sends
		return ErrInvalidTxn
	}
	switch string(m[1:3]) {
	case "10", // authorization (and balance inquiry, pre-authorization)
		"20", "22", // financial request; advice (completion)
		"40", "42", // reversal request and advice
		"50", "52", // reconciliation request and advice (terminal settlement)
		"80": // network management
		return nil
	case "32": // file update advice: UnionPay's batch upload
		if batchUpload {
			return nil
		}
	}
	return ErrInvalidTxn
}
