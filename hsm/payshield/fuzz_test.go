package payshield

import "testing"

// FuzzServerCommand feeds arbitrary bodies to every command handler
// directly (without execute's recover), so a panic shows as a failure.
func FuzzServerCommand(f *testing.F) {
	s, err := NewServer(ServerConfig{})
	if err != nil {
		f.Fatal(err)
	}
	seeds := []string{
		"DC0406FBB23A5214DF367930344805B1FAD6146EF4ED7502B3AE7A708F877571A901550000025321" + "14402",
		"CAU8463435FC4B4DAA0C49025272C29B12CU1EF828AA8F6B80EB83E19FBC373F3A85126428EB94035AF53B0101550000025321",
		"M6010320003U19D25F349FD03CC3556BB05F65283CA1000472C2",
		"BUFF1U479D751977AA598CB481F548226DBF2B;402",
		"A01003UX;1X367930344805B1FAD6146EF4ED7502B3X",
		"DA", "M8", "G0U", "A6001U", "FAZ", "KQ", "KQ2",
	}
	for _, sd := range seeds {
		f.Add(sd)
	}
	// EMV_VECTORS.md §4.1 K1 (KQ bodies are binary)
	f.Add("KQ" + string(mustHex("3130"+kqHead+"3237"+kqD+"3B"+"26C8A1042D1CAF3E"+"3030")))
	f.Fuzz(func(t *testing.T, msg string) {
		if len(msg) < 2 {
			return
		}
		h, ok := s.handlers[msg[:2]]
		if !ok {
			return
		}
		r := fieldReader{b: []byte(msg[2:])}
		_, _ = h(s, &r, nil)
	})
}
