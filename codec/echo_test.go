package codec

import "testing"

func TestEchoSets(t *testing.T) {
	cup, _ := Lookup(CUPPOS)
	iso, _ := Lookup(ISO87ASCII)
	for _, id := range []int{35, 45, 52, 55, 64, 128} { // track, PIN block, ICC data, MACs
		if Echo(cup)[id] || Echo(iso)[id] {
			t.Errorf("field %d is echoed", id)
		}
	}
	if !Echo(cup)[60] || Echo(iso)[60] || !Echo(iso)[7] || Echo(cup)[7] {
		t.Error("the UnionPay set is not the iso87 one")
	}
}

func TestCUPNetworkCode(t *testing.T) {
	d, _ := Lookup(CUPPOS)
	for _, c := range []struct {
		f60  string
		code uint32
		ok   bool
	}{{"00000001003", 3, true}, {"22000123301", 301, true}, {"0000000", 0, false}} {
		raw, err := d.Encode(Message{MTI: "0800", Fields: map[string]string{"11": "000001", "41": "12345678", "42": "123456789012345", "60": c.f60}})
		if err != nil {
			t.Fatal(err)
		}
		var v View
		if err := d.Decode(&v, raw); err != nil {
			t.Fatal(err)
		}
		if code, ok := CUPNetworkCode(&v); code != c.code || ok != c.ok {
			t.Errorf("60 = %q: %d %v, want %d %v", c.f60, code, ok, c.code, c.ok)
		}
	}
}
