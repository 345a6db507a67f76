package main

import (
	"strings"
	"testing"

	"github.com/cardswitch/cardswitch/hsm"
)

// TR-31:2018 A.7.2.2 (EMV_VECTORS.md §3.1) and the same keys under the
// test LMK: the KBPK as a ZMK (type 000), the key as a ZPK (type 001),
// both with odd parity set (DES ignores it, so the block still opens).
const (
	a722KBPK    = "DD7515F2BFC17F85CE48F3CA25CB21F6"
	a722Key     = "3F419E1CB7079442AA37474C2EFBF8B8"
	a722Block   = "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E"
	a722KBPKLMK = "U91D2A1271C6B00E827650F6BE58FE647"
	a722KeyLMK  = "U1E0D00FB9C25DAE45665E7B8F895A078"
	a74KBPK     = "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6"
)

func TestHSMTR31Unwrap(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"clear KBPK: the clear key", []string{"--kbpk", a722KBPK, "--block", a722Block}, a722Key + "\nKCV 57C409\n"},
		{"D, clear AES KBPK", []string{"--kbpk", a74KBPK, "--block", "D0112P0AE00E0000B82679114F470F540165EDFBF7E250FCEA43F810D215F8D207E2E417C07156A27E8E31DA05F7425509593D03A457DC34"}, a722Key + "\nKCV 08793E\n"},
		{"KBPK under the LMK: the KCV only", []string{"--kbpk", a722KBPKLMK, "--block", a722Block}, "KCV 57C409\n"},
		{"KBPK under the LMK, --reveal", []string{"--kbpk", a722KBPKLMK, "--block", a722Block, "--reveal"}, a722Key + "\nKCV 57C409\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cli(t, "", append([]string{"hsm", "tr31", "unwrap"}, tc.args...)...)
			if code != 0 || out != tc.want {
				t.Fatalf("exit %d, out %q, stderr %q; want %q", code, out, errOut, tc.want)
			}
		})
	}

	// with --key-type, the key comes out under the LMK, never in clear
	for _, kbpk := range []string{a722KBPKLMK, a722KBPK} {
		code, out, errOut := cli(t, "", "hsm", "tr31", "unwrap", "--kbpk", kbpk, "--block", a722Block, "--key-type", "001")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 2 || lines[1] != "KCV 57C409" || strings.Contains(out, a722Key[:16]) {
			t.Fatalf("exit %d, out %q, stderr %q", code, out, errOut)
		}
		k, err := hsm.ThalesTestLMK().DecryptKey(hsm.KeyTypeZPK, lines[0])
		if err != nil || k.KCV() != "57C409" {
			t.Fatalf("%s under the LMK: %v, KCV %s", lines[0], err, k.KCV())
		}
	}
}

// TestHSMTR31Wrap wraps (random padding, so the block is checked by
// unwrapping it) from clear keys and from keys under the LMK, and never
// prints a key given as a cryptogram.
func TestHSMTR31Wrap(t *testing.T) {
	tests := []struct {
		name, kbpk string
		args       []string
		length     int
	}{
		{"B clear", a722KBPK, []string{"--kbpk", a722KBPK, "--header", "B0000P0TE00E0000", "--key", a722Key}, 80},
		{"B under the LMK", a722KBPK, []string{"--kbpk", a722KBPKLMK, "--header", "B0000P0TE00E0000", "--key", a722KeyLMK, "--key-type", "001"}, 80},
		{"B KS block, masked", a722KBPK, []string{"--kbpk", a722KBPK, "--header", "B0000B0TX12S0100KS1800604B120F9292800000", "--key", a722Key, "--mask", "24"}, 120},
		{"D clear, TDES key", a74KBPK, []string{"--kbpk", a74KBPK, "--header", "D0112P0TE00E0000", "--key", a722Key}, 112},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cli(t, "", append([]string{"hsm", "tr31", "wrap"}, tc.args...)...)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if code != 0 || len(lines) != 2 || lines[1] != "KCV 57C409" {
				t.Fatalf("exit %d, out %q, stderr %q", code, out, errOut)
			}
			if strings.Contains(lines[0], a722Key[:16]) || len(lines[0]) != tc.length {
				t.Fatalf("block %q: %d characters, want %d", lines[0], len(lines[0]), tc.length)
			}
			var kbpk hsm.Key
			if tc.kbpk == a74KBPK {
				kbpk, _ = hsm.ParseAESKey(tc.kbpk)
			} else {
				kbpk, _ = hsm.ParseTDESKey(tc.kbpk, hsm.ParityIgnore)
			}
			k, h, err := hsm.UnwrapKeyBlock(kbpk, lines[0])
			if err != nil || k.KCV() != "57C409" || h.Usage+string(h.Algorithm) != tc.args[3][5:8] {
				t.Fatalf("unwrap %s: %v, KCV %s, header %+v", lines[0], err, k.KCV(), h)
			}
		})
	}
}

func TestHSMTR31Refusals(t *testing.T) {
	tampered := a722Block[:len(a722Block)-1] + "F"
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no operation", []string{"hsm", "tr31"}, 2, "say hsm tr31 wrap or hsm tr31 unwrap"},
		{"--aes", []string{"hsm", "tr31", "wrap", "--aes", "--kbpk", a74KBPK, "--header", "D0000P0AE00E0000", "--key", a722Key}, 2, "takes no --aes"},
		{"unknown operation", []string{"hsm", "tr31", "export"}, 2, `not "export"`},
		{"wrap without kbpk", []string{"hsm", "tr31", "wrap", "--header", "B0000P0TE00E0000", "--key", a722Key}, 2, "--kbpk is required"},
		{"wrap without header", []string{"hsm", "tr31", "wrap", "--kbpk", a722KBPK, "--key", a722Key}, 2, "--header is required"},
		{"wrap without key", []string{"hsm", "tr31", "wrap", "--kbpk", a722KBPK, "--header", "B0000P0TE00E0000"}, 2, "--key is required"},
		{"wrap version A", []string{"hsm", "tr31", "wrap", "--kbpk", a722KBPK, "--header", "A0000P0TE00E0000", "--key", a722Key}, 2, "versions B (TDES KBPK) and D"},
		{"short header", []string{"hsm", "tr31", "wrap", "--kbpk", a722KBPK, "--header", "B0000P0TE00E", "--key", a722Key}, 2, "at least 16 characters"},
		{"optional block count wrong", []string{"hsm", "tr31", "wrap", "--kbpk", a722KBPK, "--header", "B0000P0TE00E0200KS0800000000", "--key", a722Key}, 1, "do not match their count"},
		{"trailing header text", []string{"hsm", "tr31", "wrap", "--kbpk", a722KBPK, "--header", "B0000P0TE00E0000XY", "--key", a722Key}, 2, "2 characters after its 0 optional blocks"},
		{"exportability X", []string{"hsm", "tr31", "wrap", "--kbpk", a722KBPK, "--header", "B0000P0TE00X0000", "--key", a722Key}, 1, "exportability E, N or S"},
		{"algorithm A for a TDES key", []string{"hsm", "tr31", "wrap", "--kbpk", a722KBPK, "--header", "B0000P0DE00E0000", "--key", a722Key}, 1, "does not name the key"},
		{"B with a single DES KBPK", []string{"hsm", "tr31", "wrap", "--kbpk", "0123456789ABCDEF", "--header", "B0000P0TE00E0000", "--key", a722Key}, 1, "version B needs a double or triple length TDES KBPK"},
		{"D with a KBPK of 20 bytes", []string{"hsm", "tr31", "wrap", "--kbpk", a722KBPK + "00000000", "--header", "D0000P0TE00E0000", "--key", a722Key}, 1, "--kbpk: hsm: invalid key length"},
		{"D with a KBPK under the LMK", []string{"hsm", "tr31", "wrap", "--kbpk", a722KBPKLMK, "--header", "D0000P0TE00E0000", "--key", a722Key}, 2, "version D needs an AES KBPK"},
		{"key cryptogram without its type", []string{"hsm", "tr31", "wrap", "--kbpk", a722KBPK, "--header", "B0000P0TE00E0000", "--key", a722KeyLMK}, 2, "say its --key-type"},
		{"key cryptogram of the wrong type", []string{"hsm", "tr31", "wrap", "--kbpk", a722KBPK, "--header", "B0000P0TE00E0000", "--key", a722KeyLMK, "--key-type", "009"}, 1, "key type 009"},
		{"mask below the key", []string{"hsm", "tr31", "wrap", "--kbpk", a722KBPK, "--header", "B0000P0TE00E0000", "--key", a722Key, "--mask", "8"}, 2, "--mask pads"},
		{"unwrap without block", []string{"hsm", "tr31", "unwrap", "--kbpk", a722KBPK}, 2, "--block is required"},
		{"unwrap with --header", []string{"hsm", "tr31", "unwrap", "--kbpk", a722KBPK, "--block", a722Block, "--header", "B0000P0TE00E0000"}, 2, "are for hsm tr31 wrap"},
		{"unwrap tampered", []string{"hsm", "tr31", "unwrap", "--kbpk", a722KBPK, "--block", tampered}, 1, "MAC mismatch"},
		{"unwrap under the wrong KBPK", []string{"hsm", "tr31", "unwrap", "--kbpk", a74KBPK[:32], "--block", a722Block}, 1, "MAC mismatch"},
		{"unwrap D with a TDES-length KBPK", []string{"hsm", "tr31", "unwrap", "--kbpk", a722KBPK + "0000000000000000", "--block", "D0112P0AE00E0000B82679114F470F540165EDFBF7E250FCEA43F810D215F8D207E2E417C07156A27E8E31DA05F7425509593D03A457DC34"}, 1, "MAC mismatch"},
		{"unwrap B with a single DES KBPK", []string{"hsm", "tr31", "unwrap", "--kbpk", "0123456789ABCDEF", "--block", a722Block}, 1, "with this KBPK (TDES, 8 bytes)"},
		{"unwrap bad length", []string{"hsm", "tr31", "unwrap", "--kbpk", a722KBPK, "--block", a722Block + "00"}, 1, "malformed TR-31 key block"},
		{"D unwrapped AES key under the LMK", []string{"hsm", "tr31", "unwrap", "--kbpk", strings.Repeat("41", 32), "--block", "D0144D0AN00N0000127862F945C2DED04530FAF7CDBC8B0BA10C7AA79BD5E0C2C5D6AC173BF588E4B19ACF1357178D50EA0AB193228E13958304FC6149632DFDCADF3A5B3D57E814", "--key-type", "00B"}, 1, "only a DES or TDES key goes under the LMK"},
		{"unwrap under the LMK, bad key type", []string{"hsm", "tr31", "unwrap", "--kbpk", a722KBPKLMK, "--block", a722Block, "--key-type", "0Z1"}, 1, "--key-type 0Z1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cli(t, "", tc.args...)
			if code != tc.code || out != "" || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d (want %d), out %q, stderr %q; want it to say %q", code, tc.code, out, errOut, tc.want)
			}
			if strings.Contains(errOut, a722Key[:16]) || strings.Contains(errOut, "3E409E1CB6079443") {
				t.Fatalf("stderr shows the key: %q", errOut)
			}
		})
	}
}
