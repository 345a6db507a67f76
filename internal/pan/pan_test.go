package pan

import "testing"

func TestMaskAndValid(t *testing.T) {
	for in, want := range map[string]string{
		"4761739001010010": "476173******0010", "6228480402564890018": "622848*********0018",
		"4000001234562": "400000***4562", "12345678": "12****78",
	} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%s) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string]bool{
		"4761739001010010": true, "4761739001010011": false, "4000001234562": true,
		"12345678": false, "476173900101001A": false, "62284804025648900180000": false,
	} {
		if Valid(in) != want {
			t.Errorf("Valid(%s) = %v", in, !want)
		}
	}
}

func TestWithCheckDigit(t *testing.T) {
	for _, body := range []string{"476173900101001", "400000123456", "622848040256489001", "411111111111111"} {
		p := WithCheckDigit(body)
		if !Valid(p) || p[:len(body)] != body {
			t.Fatalf("%s -> %s: not valid", body, p)
		}
		for d := byte('0'); d <= '9'; d++ { // every other check digit is refused
			if other := body + string(d); other != p && Valid(other) {
				t.Fatalf("%s valid too", other)
			}
		}
	}
}
