package pan

import "testing"

func TestCardData(t *testing.T) {
	for in, want := range map[string]bool{
		"4761739001010010":           true,  // a PAN
		"4761739001010011":           false, // check digit wrong
		"shop 4000001234562 x":       true,  // 13 digits inside text
		"40000012345620":             false, // 14 digits, Luhn fails
		"47617390010100104":          false, // 17 digits, Luhn fails
		"12345678901234567890123458": false, // 26 digits: longer than a PAN
		"123456789012":               false, // 12 digits: shorter than a PAN
		"010010=2":                   true,  // a track separator next to digits
		"=2812101":                   true,
		"4761739001=":                true,
		"TERM0001":                   false,
		"MERCHANT0000001":            false,
		"A=B":                        false,
		"":                           false,
	} {
		if got := CardData([]byte(in)); got != want {
			t.Errorf("CardData(%q) = %v, want %v", in, got, want)
		}
	}
	if got := MaskDigits("01 0010=2x"); got != "** ****=*x" {
		t.Errorf("MaskDigits: %q", got)
	}
	b := []byte("ACME 4761739001010010 CITY=")
	if n := testing.AllocsPerRun(100, func() { CardData(b) }); n != 0 {
		t.Errorf("CardData allocates %.0f", n)
	}
}

func BenchmarkCardData(b *testing.B) {
	in := []byte("ACME STORE             SPRINGFIELD   US")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if CardData(in) {
			b.Fatal("found")
		}
	}
}

// LuhnRun agrees with Valid on every run length around a PAN's, for
// numbers with and without a right check digit.
func TestLuhnRunAgreesWithValid(t *testing.T) {
	for n := 10; n <= 21; n++ {
		body := "4761739001010010475"[:min(n-1, 19)]
		for len(body) < n-1 {
			body += "3"
		}
		good := WithCheckDigit(body)
		for d := byte('0'); d <= '9'; d++ {
			p := body + string(rune(d))
			want := p == good && n >= RunsMin && n <= RunsMax
			if got := LuhnRun([]byte("x" + p + "=")); got != want {
				t.Errorf("LuhnRun(%s) = %v, want %v", p, got, want)
			}
		}
	}
}

func TestInspectControl(t *testing.T) {
	for in, want := range map[string]Findings{"TERM\x01001": Control, "MERCH\x7f": Control, "\x12\x10=4": Control | Separator,
		"caf\xc3\xa9": Control, "ACME STORE": 0} {
		if got := Inspect([]byte(in)); got != want {
			t.Errorf("Inspect(%q) = %b, want %b", in, got, want)
		}
	}
}
