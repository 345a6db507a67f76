package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
)

func TestHSMServeBindsBeforeListening(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	code, _, errOut := cli(t, "", "hsm", "serve", "--addr", taken.Addr().String())
	if code != 1 || strings.Contains(errOut, "listening") || !strings.Contains(errOut, "address already in use") {
		t.Fatalf("a port in use: %d %q", code, errOut)
	}

	// the line names the bound address, and it takes connections as soon as it is printed
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveHSMContext(ctx, &env{stderr: pw}, "127.0.0.1:0"); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSpace(line[strings.LastIndex(line, " ")+1:])
	if !strings.Contains(line, "listening on 127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Fatalf("%q", line)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("listening printed, but: %v", err)
	}
	c.Close()
	cancel()
	go io.Copy(io.Discard, pr)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// peer is a fake switch on loopback that does one thing with every
// connection: "close" closes it after reading, "silent" reads and never
// answers.
func peer(t *testing.T, mode string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				if _, err := c.Read(buf); err != nil || mode == "close" {
					return
				}
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func TestSendExplainsNoReply(t *testing.T) {
	hint := "(wrong --dialect or --framing for the port?)"
	code, _, errOut := cli(t, "", "send", "--addr", peer(t, "close"), "--dialect", "iso87binary")
	if code != 1 || !strings.Contains(errOut, "the switch closed the connection without a reply (EOF): does 127.0.0.1:") ||
		!strings.Contains(errOut, "speak iso87binary with binary2 framing? "+hint) {
		t.Errorf("closed: %d %q", code, errOut)
	}
	code, _, errOut = cli(t, "", "send", "--addr", peer(t, "silent"), "--framing", "ascii4", "--timeout", "50ms")
	if code != 1 || !strings.Contains(errOut, "no reply within 50ms: does") || !strings.Contains(errOut, "with ascii4 framing? "+hint) {
		t.Errorf("silent: %d %q", code, errOut)
	}
}

// TestSendRefusesResponses: a response or a notification is refused before
// anything is dialled (the address is closed).
func TestSendRefusesResponses(t *testing.T) {
	closed := freePort(t)
	for _, c := range []struct{ stdin, want string }{
		{"", "--mti 0210 is not a request or an advice (third digit 0 or 2, e.g. 0200)"},
		{"", "--mti 0430 is not a request or an advice (third digit 0 or 2, e.g. 0420)"},
		{`{"mti":"0810","fields":{"70":"301"}}`, "the JSON message's mti 0810 is not a request or an advice"},
	} {
		args := []string{"send", "--addr", closed}
		if c.stdin != "" {
			args = append(args, "-")
		} else {
			args = append(args, "--mti", strings.Fields(c.want)[1])
		}
		code, _, errOut := cli(t, c.stdin, args...)
		if first, _, _ := strings.Cut(errOut, "\n"); code != 2 || !strings.Contains(first, c.want) {
			t.Errorf("%v: %d %q, want %q", args, code, first, c.want)
		}
	}
}

func TestSendNamesTheFlag(t *testing.T) {
	closed := freePort(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--stan", "12ab56"}, "--stan: iso87ascii: field 11 (Systems Trace Audit Number) at byte 66: numeric field holds a non-digit"},
		{[]string{"--pan", "47617x"}, "--pan: iso87ascii: field 2 (Primary Account Number)"},
		{[]string{"--field", "4=abc"}, "--field 4: iso87ascii: field 4 (Amount, Transaction)"},
		{[]string{"--amount", "-5"}, "--amount -5: must be 0 to 999999999999"},
		{[]string{"--dialect", "iso93"}, `--dialect: codec: unknown dialect "iso93"`},
		{[]string{"--framing", "udp"}, "--framing: "},
		{[]string{"--mti", "02x0"}, `--mti "02x0" is not 4 digits`},
	} {
		code, _, errOut := cli(t, "", append([]string{"send", "--addr", closed}, c.args...)...)
		if first, _, _ := strings.Cut(errOut, "\n"); code != 2 || !strings.HasPrefix(first, "cardswitch send: "+c.want) {
			t.Errorf("%v: %d %q, want %q", c.args, code, first, c.want)
		}
	}
}

func TestDecodeShortFrameSaysWhatTheHeaderAnnounced(t *testing.T) {
	hexIn := golden(t, "iso87ascii_0200")
	code, _, errOut := cli(t, "", "decode", "--framing", "binary2", hexIn[:60])
	if code != 1 || !strings.Contains(errOut, "frame incomplete: the binary2 header announces 241 bytes after it, the hex holds 28") {
		t.Errorf("%d %q", code, errOut)
	}
	code, _, errOut = cli(t, "", "decode", "--framing", "ascii4", "303030")
	if code == 0 || !strings.Contains(errOut, "the ascii4 length header alone takes 4") {
		t.Errorf("%d %q", code, errOut)
	}
}

func TestEncodeMaskedJSONNeedsUnmask(t *testing.T) {
	code, js, errOut := cli(t, "", "decode", "--framing", "binary2", "--json", golden(t, "iso87ascii_0200"))
	if code != 0 {
		t.Fatal(errOut)
	}
	code, _, errOut = cli(t, js, "encode")
	if code != 1 || !strings.Contains(errOut, "field 2 is masked: decode with --unmask for JSON that encodes back") {
		t.Errorf("masked PAN: %d %q", code, errOut)
	}
	code, _, errOut = cli(t, `{"mti":"0200","fields":{"3":"000000","52":"[16 characters hidden]"}}`, "encode")
	if code != 1 || !strings.Contains(errOut, "field 52 is masked") {
		t.Errorf("hidden PIN block: %d %q", code, errOut)
	}
	code, _, errOut = cli(t, js, "send", "--addr", freePort(t), "-")
	if code != 1 || !strings.Contains(errOut, "field 2 is masked") {
		t.Errorf("send -: %d %q", code, errOut)
	}
}

func TestJournalDateFlagNamesTheFormat(t *testing.T) {
	for _, bad := range []string{"2026-11-21", "20261321", "261121"} {
		code, _, errOut := cli(t, "", "journal", "dump", "--data-dir", t.TempDir(), "--date", bad)
		if first, _, _ := strings.Cut(errOut, "\n"); code != 2 || !strings.Contains(first, "want a business date as YYYYMMDD, e.g. 20261121") {
			t.Errorf("%s: %d %q", bad, code, first)
		}
	}
}

// send --chip refuses, before connecting, what it cannot play: a card that
// is not a chip card, one not in the issuer data, a counter out of range,
// a message from standard input, a dialect without field 55.
func TestSendChipRefuses(t *testing.T) {
	closed := freePort(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--chip", "--pan", "4761739001010010"}, "--chip: card 476173******0010's profile standard has no emv settings (not a chip card)"},
		{[]string{"--chip", "--pan", "4111111111111111"}, "--chip: card 411111******1111 is not in the issuer data"},
		{[]string{"--chip", "--atc", "65536"}, "--atc 65536: must be 0 to 65535"},
		{[]string{"--chip", "-"}, "--chip builds field 55 for a message from flags"},
	} {
		code, _, errOut := cli(t, `{"mti":"0200","fields":{}}`, append([]string{"send", "--addr", closed}, c.args...)...)
		if first, _, _ := strings.Cut(errOut, "\n"); code != 2 || !strings.HasPrefix(first, "cardswitch send: "+c.want) {
			t.Errorf("%v: %d %q, want %q", c.args, code, first, c.want)
		}
	}
}
