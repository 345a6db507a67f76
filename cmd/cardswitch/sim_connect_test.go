package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/internal/testlog"
)

func TestSimIssuerConnectRefusesBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sim", "issuer", "--sign-on"}, "cardswitch sim: --sign-on and --connections go with --connect"},
		{[]string{"sim", "issuer", "--connections", "2"}, "cardswitch sim: --sign-on and --connections go with --connect"},
		{[]string{"sim", "issuer", "--connect", "127.0.0.1:1", "--listen", "127.0.0.1:0"}, "cardswitch sim: --listen or --connect, not both"},
		{[]string{"sim", "issuer", "--connect", "nowhere"}, `cardswitch sim: --connect: "nowhere" is not host:port`},
		{[]string{"sim", "issuer", "--connect", "127.0.0.1:1", "--connections", "65"}, "cardswitch sim: --connect: sim: DialConns 65 must be 0 to 64"},
	} {
		code, _, errOut := cli(t, "", c.args...)
		if first, _, _ := strings.Cut(errOut, "\n"); code != 2 || !strings.HasPrefix(first, c.want) {
			t.Errorf("%v: %d %q, want 2 %q", c.args, code, first, c.want)
		}
	}
}

// With --connect the simulator dials the address, signs on first, answers
// the requests that come on the connection it made, and prints its
// counters when stopped.
func TestSimIssuerConnectDialsAndSignsOn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f := &simFlags{connect: ln.Addr().String(), dialect: codec.ISO87ASCII, framing: "binary2", connections: 1, signOn: true}
	cfg, err := f.config()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stdout testlog.Buffer
	done := make(chan error, 1)
	go func() { done <- runSimDialler(ctx, &env{stdout: &stdout, stderr: pw}, f.connect, cfg); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	if !strings.Contains(line, "connecting to "+f.connect+" (1 connections, sign-on true)") {
		t.Fatalf("%q", line)
	}
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	d, _ := codec.Lookup(codec.ISO87ASCII)
	read := func() codec.Message {
		t.Helper()
		var h [2]byte
		if _, err := io.ReadFull(nc, h[:]); err != nil {
			t.Fatal(err)
		}
		msg := make([]byte, binary.BigEndian.Uint16(h[:]))
		if _, err := io.ReadFull(nc, msg); err != nil {
			t.Fatal(err)
		}
		var v codec.View
		if err := d.Decode(&v, msg); err != nil {
			t.Fatal(err)
		}
		return v.ToMessage(false)
	}
	write := func(m codec.Message) {
		t.Helper()
		msg, err := d.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...)); err != nil {
			t.Fatal(err)
		}
	}
	signOn := read()
	if signOn.MTI != "0800" || signOn.Fields["70"] != "001" || len(signOn.Fields["11"]) != 6 || len(signOn.Fields["7"]) != 10 {
		t.Fatalf("first message %+v, want an 0800 sign-on with 7 and 11", signOn)
	}
	write(codec.Message{MTI: "0810", Fields: map[string]string{"7": signOn.Fields["7"], "11": signOn.Fields["11"], "39": "00", "70": "001"}})
	write(codec.Message{MTI: "0200", Fields: map[string]string{"2": "4761739001010010", "3": "000000", "4": "000000001000",
		"7": "1121204500", "11": "000042", "37": "000000000042", "41": "TERM0001"}})
	if r := read(); r.MTI != "0210" || r.Fields["39"] != "00" || r.Fields["11"] != "000042" {
		t.Fatalf("reply %+v, want an 0210 with 00", r)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"connections  1 (refused 0)\n", "answered     1\n", "dialled      1 (sign-ons and sign-offs answered 00: 1)\n"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("counters do not show %q:\n%s", want, stdout.String())
		}
	}
}
