package codec

// FieldSet is a set of field numbers, indexed by number.
type FieldSet [MaxField + 1]bool

func fieldSet(ids ...int) *FieldSet {
	var s FieldSet
	for _, id := range ids {
		s[id] = true
	}
	return &s
}

// The request fields a response copies, per dialect family: what a peer's
// matcher may key on (the MTI class with 11, 41, 7 and 37, or 41 and 11 as
// jPOS's QMUX does), and what it needs to book the answer. Track data, PIN
// blocks, MACs and ICC data are never echoed.
var (
	iso87Echo = fieldSet(2, 3, 4, 5, 6, 7, 11, 12, 13, 15, 18, 22, 24, 25, 32, 33, 37, 41, 42, 49, 50, 51, 70, 90, 95, 100, 102, 103)
	cupEcho   = fieldSet(2, 3, 4, 11, 12, 13, 14, 15, 22, 23, 25, 32, 37, 41, 42, 49, 60, 61)
)

// Echo is the set of request fields a response in dialect d copies. The
// switch's replies and the issuer simulator's use the same sets.
func Echo(d *Dialect) *FieldSet {
	if d != nil && d.Name == CUPPOS {
		return cupEcho
	}
	return iso87Echo
}

// CUPNetworkCode reads a UnionPay message's network management code, 60.3:
// field 60 is 60.1 (n2 message type), 60.2 (n6 batch number), 60.3 (n3
// network management code), and so on.
func CUPNetworkCode(v *View) (uint32, bool) {
	var buf [17]byte
	d := v.AppendText(buf[:0], 60)
	if len(d) < 11 {
		return 0, false
	}
	n := uint32(0)
	for _, c := range d[8:11] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint32(c-'0')
	}
	return n, true
}
