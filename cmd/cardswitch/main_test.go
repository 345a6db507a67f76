package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// cli runs a command in process and returns its exit code and output.
func cli(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut})
	return code, out.String(), errOut.String()
}

func golden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../codec/testdata/golden/" + name + ".hex")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestHelpAndUsage(t *testing.T) {
	if code, out, _ := cli(t, "", "help"); code != 0 || !strings.Contains(out, "decode") || !strings.Contains(out, "encode") {
		t.Fatalf("help: %d %q", code, out)
	}
	if code, _, _ := cli(t, ""); code != 2 {
		t.Fatalf("no command: %d", code)
	}
	if code, _, errOut := cli(t, "", "nope"); code != 2 || !strings.Contains(errOut, `unknown command "nope"`) {
		t.Fatalf("unknown: %d %q", code, errOut)
	}
	for name := range commands {
		code, _, errOut := cli(t, "", name, "--help")
		if code != 0 || !strings.Contains(errOut, "usage: cardswitch "+name) {
			t.Errorf("%s --help: %d %q", name, code, errOut)
		}
	}
	if code, _, errOut := cli(t, "", "decode", "--framing", "udp", "00"); code != 2 || !strings.Contains(errOut, "unknown framing") {
		t.Fatalf("bad framing: %d %q", code, errOut)
	}
}

func TestDecodeMasksByDefault(t *testing.T) {
	code, out, errOut := cli(t, "", "decode", "--framing", "binary2", golden(t, "iso87ascii_0200"))
	if code != 0 {
		t.Fatalf("%d %s", code, errOut)
	}
	for _, want := range []string{"476173******0010", "Primary Account Number", "0200  financial request", "framing binary2, length 241"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	for _, secret := range []string{"4761739001010010", "0123456789ABCDEF"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q shown without --unmask", secret)
		}
	}
}

func TestDecodeEncodeRoundTrip(t *testing.T) {
	for _, c := range []struct{ name, dialect, framing string }{
		{"iso87ascii_0200", "iso87ascii", "binary2"},
		{"iso87ascii_0800", "iso87ascii", "ascii4"},
		{"iso87ascii-bbitmap_0200", "iso87ascii-bbitmap", "binary2"},
		{"iso87binary_0400", "iso87binary", "bcd2"},
		{"cup-pos_0200", "cup-pos", "binary2+tpdu"},
	} {
		hexIn := golden(t, c.name)
		code, js, errOut := cli(t, hexIn, "decode", "--dialect", c.dialect, "--framing", c.framing, "--json", "--unmask")
		if code != 0 {
			t.Fatalf("%s decode: %s", c.name, errOut)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(js), &m); err != nil || m["mti"] == nil || m["fields"] == nil {
			t.Fatalf("%s json: %v %s", c.name, err, js)
		}
		code, out, errOut := cli(t, js, "encode", "--dialect", c.dialect, "--framing", c.framing)
		if code != 0 || strings.TrimSpace(out) != hexIn {
			t.Fatalf("%s encode: %d %s\n got %s\nwant %s", c.name, code, errOut, out, hexIn)
		}
	}
}

func TestDecodeReportsTheField(t *testing.T) {
	// 0200 whose processing code holds a letter
	msg := "30323030" + "3230303030303030" + "3030303030303030" + "3030304130" + "30"
	code, _, errOut := cli(t, "", "decode", msg)
	if code != 1 || !strings.Contains(errOut, "field 3 (Processing Code)") {
		t.Fatalf("%d %q", code, errOut)
	}
	code, _, errOut = cli(t, `{"mti":"0200","fields":{"3":"12345678"}}`, "encode")
	if code != 1 || !strings.Contains(errOut, "field 3") {
		t.Fatalf("encode too long: %d %q", code, errOut)
	}
	code, _, errOut = cli(t, "", "decode", "--framing", "binary2", "00FF0102")
	if code != 1 || !strings.Contains(errOut, "incomplete") {
		t.Fatalf("short frame: %d %q", code, errOut)
	}
}

func TestHSMTools(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{ // known answers from the shared HSM vectors
		{[]string{"hsm", "kcv", "--key", "0123456789ABCDEFFEDCBA9876543210"}, "08D7B4\n"},
		{[]string{"hsm", "kcv", "--aes", "--key", "00112233445566778899AABBCCDDEEFF"}, "53E107\n"},
		{[]string{"hsm", "pinblock", "--format", "0", "--pin", "1234", "--pan", "5432101234567891"}, "041215FEDCBA9876\n"},
		{[]string{"hsm", "mac", "--alg", "x919", "--key", "0123456789ABCDEFFEDCBA9876543210", "--data", "4E6F77206973207468652074696D6520666F7220616C6C20"}, "A1C72E74EA3FA9B6\n"},
		{[]string{"hsm", "mac", "--alg", "cup", "--key", "2222222222222222", "--data", "1234567890ABCDEFABCDEF1234567890"}, "4532363742364532\n"},
		{[]string{"hsm", "dukpt", "--bdk", "0123456789ABCDEFFEDCBA9876543210", "--ksn", "FFFF9876543210E00001"}, "6AC292FAA1315B4D858AB3A3D7D5933A\n042666B49184CFA368DE9628D0397BC9\n"},
	} {
		code, out, errOut := cli(t, "", c.args...)
		if code != 0 || out != c.want {
			t.Errorf("%v: %d %q %s", c.args, code, out, errOut)
		}
	}
	if code, _, _ := cli(t, "", "hsm", "pinblock", "--format", "2", "--pin", "1234"); code != 2 {
		t.Errorf("format 2 accepted")
	}
}

// A malformed --field is refused without echoing its value, which may be
// a card number or track data.
func TestSendFieldErrorDoesNotEchoTheValue(t *testing.T) {
	code, out, errOut := cli(t, "", "send", "--addr", "127.0.0.1:1", "--field", "35:4761739001010010D30121010000000000")
	if code == 0 || strings.Contains(out+errOut, "4761739001010010") || !strings.Contains(errOut, "--field number 1") {
		t.Fatalf("exit %d: %q %q", code, out, errOut)
	}
}

// CMAC pads itself: the tool (and links, and send) use it without ISO 9797
// padding. RFC 4493, example 2.
func TestHSMToolCMAC(t *testing.T) {
	code, out, errOut := cli(t, "", "hsm", "mac", "--alg", "cmac", "--aes", "--key", "2B7E151628AED2A6ABF7158809CF4F3C",
		"--data", "6BC1BEE22E409F96E93D7E117393172A")
	if code != 0 || strings.TrimSpace(out) != "070A16B46B4D4144F79BDD9DD04A287C" {
		t.Fatalf("exit %d: %q %q", code, out, errOut)
	}
	if code, _, errOut := cli(t, "", "bench", "--mac", "md5", "--duration", "1s"); code != 2 || !strings.Contains(errOut, `--mac "md5"`) {
		t.Fatalf("bench --mac md5: exit %d %q", code, errOut)
	}
}
