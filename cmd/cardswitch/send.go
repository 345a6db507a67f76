package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/internal/client"
)

// multiFlag collects repeated --field N=VALUE flags.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

type sendFlags struct {
	linkFlags
	mti, pan, proc, stan, terminal, merchant, header string
	currency, expiry, entry, netcode                 string
	amount                                           int64
	fields                                           multiFlag
	pin, mac, config                                 string
	ksn, bdk                                         string // play a DUKPT terminal (send_keys.go)
	timeout                                          time.Duration
	asJSON, unmask, chip                             bool
	atc                                              int
}

func init() {
	register(&command{
		name: "send",
		args: "[-]",
		summary: "Send one message to a switch and print the reply.\n\n" +
			"The message is built from flags (--mti, --pan, --amount, --proc, ... with defaults from the demo\n" +
			"issuer data), or read as the JSON form of 'encode' from standard input when the argument is '-'.\n" +
			"Prints the reply decoded and masked, and the round-trip time. Exit status 1 on a timeout or a\n" +
			"connection error; a declined reply is not an error.",
		setup: func(fs *flag.FlagSet) func([]string, *env) error {
			f := &sendFlags{}
			f.linkFlags.register(fs, "switch address")
			fs.StringVar(&f.mti, "mti", "0200", "message type")
			fs.StringVar(&f.pan, "pan", "", "card number (default: a demo card of the dialect)")
			fs.Int64Var(&f.amount, "amount", 1000, "amount in minor units (field 4)")
			fs.StringVar(&f.proc, "proc", "000000", "processing code (field 3)")
			fs.StringVar(&f.stan, "stan", "", "STAN (default: the terminal's next, from the STAN ledger bench shares)")
			fs.StringVar(&f.terminal, "terminal", "", "terminal ID, field 41 (default: the demo terminal)")
			fs.StringVar(&f.merchant, "merchant", "", "merchant ID, field 42 (default: the demo merchant)")
			fs.StringVar(&f.currency, "currency", "", "currency, field 49 (default: 840, or 156 for cup-pos)")
			fs.StringVar(&f.expiry, "expiry", "2812", "expiry YYMM, field 14")
			fs.StringVar(&f.entry, "entry-mode", "", "POS entry mode, field 22 (default 012, or 051 with --chip)")
			fs.StringVar(&f.netcode, "netcode", "301", "network management code for an 0800 (301 echo, 001 sign-on, 002 sign-off)")
			fs.StringVar(&f.header, "header", "603100311000", "message header for dialects that have one (hex)")
			fs.Var(&f.fields, "field", "extra field as N=VALUE (text form); repeatable")
			fs.StringVar(&f.pin, "pin", "", "PIN: field 52 becomes the ISO 0 PIN block under the terminal's PIN key")
			fs.StringVar(&f.ksn, "ksn", "", "play a DUKPT terminal: the KSN (20 hex digits) goes in the terminal's KSN field (default 62) and --pin's block is under the DUKPT PIN key for it")
			fs.StringVar(&f.bdk, "bdk", "", "with --ksn, the BDK: 32 hex digits (a test key) or a cryptogram under the test LMK (U..., type 009); default: the key set's from the issuer data")
			fs.StringVar(&f.mac, "mac", "auto", "MAC field 64 with the terminal's MAC key: cup, x919, alg1, cmac, none; auto: cup on cup-pos, else none")
			fs.StringVar(&f.config, "config", "", "configuration whose issuer data holds the terminal's keys (default: the embedded one)")
			fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "connect and reply timeout")
			fs.BoolVar(&f.asJSON, "json", false, "print the reply in the JSON form")
			fs.BoolVar(&f.unmask, "unmask", false, "show card data in full")
			fs.BoolVar(&f.chip, "chip", false, "play the chip card: field 55 with an ARQC from its profile's IMK (default card "+demoChipPAN+"), and check the reply's ARPC (tag 91)")
			fs.IntVar(&f.atc, "atc", -1, "with --chip, the card's transaction counter 9F36, 0 to 65535 (default: the card's next in the STAN ledger, shared with bench); the switch refuses one it has seen")
			return func(args []string, e *env) error {
				if len(args) > 1 || (len(args) == 1 && args[0] != "-") {
					return usagef("the only argument is '-', to read the JSON message from standard input")
				}
				return runSend(e, f, len(args) == 1)
			}
		},
	})
}

func runSend(e *env, f *sendFlags, fromStdin bool) error {
	d, fr, tpdu, err := f.resolve()
	if err != nil {
		return err
	}
	var m codec.Message
	if fromStdin {
		var jm jsonMessage
		dec := json.NewDecoder(io.LimitReader(e.stdin, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&jm); err != nil {
			return fmt.Errorf("reading the JSON message: %v", err)
		}
		m = jm.Message
		if err := checkRequestMTI("the JSON message's mti", m.MTI); err != nil {
			return usagef("%v", err)
		}
		if err := checkUnmasked(m); err != nil {
			return err
		}
	} else if m, err = buildMessage(d, f, time.Now()); err != nil {
		return usagef("%v", err)
	}
	var chip *sendChip
	if f.chip {
		if fromStdin || d.Field(codec.FieldEMV) == nil {
			return usagef("--chip builds field 55 for a message from flags, on a dialect that has it")
		}
		if chip, err = newSendChip(f, &m, time.Now()); err != nil {
			return err
		}
	}
	keys, err := terminalKeys(f, m.Fields["41"])
	if err != nil {
		return err
	}
	switch {
	case f.ksn != "":
		if err := dukptFields(f, &m); err != nil {
			return usagef("--ksn: %v", err)
		}
	case f.bdk != "":
		return usagef("--bdk needs --ksn")
	case f.pin != "":
		if m.Fields["52"], err = keys.pinBlock(f.pin, m.Fields["2"]); err != nil {
			return usagef("--pin: %v", err)
		}
	}
	sign, err := keys.macFunc(f.mac, d)
	if err != nil {
		return usagef("--mac: %v", err)
	}
	macField := 0
	if sign != nil {
		macField = 64
	}
	msg, err := d.EncodeMAC(m, macField, sign)
	if err != nil {
		var fe *codec.FieldError
		if errors.As(err, &fe) && !fromStdin {
			if name := f.flagFor(fe.Field); name != "" {
				return usagef("%s: %s: %s", name, d.Name, codec.DescribeError(d, err))
			}
		}
		return fmt.Errorf("%s: %s", d.Name, codec.DescribeError(d, err))
	}
	tc, err := f.client()
	if err != nil {
		return err
	}
	start := time.Now()
	var conn *client.Conn
	if tc != nil {
		conn, err = client.DialTLS(f.addr, d, fr, tpdu, f.timeout, tc)
	} else {
		conn, err = client.Dial(f.addr, d, fr, tpdu, f.timeout)
	}
	if err != nil {
		return fmt.Errorf("connect %s: %v", f.addr, err)
	}
	defer conn.Close()
	reply, err := conn.RoundTrip(msg, f.timeout)
	rtt := time.Since(start)
	if err != nil {
		return explainNoReply(err, f)
	}
	if err := printReply(e, d, reply, rtt, f.asJSON, f.unmask); err != nil || chip == nil {
		return err
	}
	lines, err := chip.check(reply)
	for _, l := range lines {
		fmt.Fprintln(e.stdout, l)
	}
	return err
}

func printReply(e *env, d *codec.Dialect, r *client.Reply, rtt time.Duration, asJSON, unmask bool) error {
	if asJSON {
		out, _ := json.Marshal(struct {
			TPDU string `json:"tpdu,omitempty"`
			codec.Message
			RTTMicros int64 `json:"rtt_us"`
		}{fmt.Sprintf("%X", r.TPDU), r.View.ToMessage(!unmask), rtt.Microseconds()})
		if len(r.TPDU) == 0 {
			out = bytes.Replace(out, []byte(`"tpdu":"",`), nil, 1)
		}
		_, err := fmt.Fprintf(e.stdout, "%s\n", out)
		return err
	}
	var b bytes.Buffer
	if len(r.TPDU) > 0 {
		fmt.Fprintf(&b, "tpdu    %s\n", codec.DescribeTPDU(r.TPDU))
	}
	if err := codec.Describe(&b, &r.View, !unmask); err != nil {
		return err
	}
	fmt.Fprintf(&b, "round trip %v\n", rtt.Round(time.Microsecond))
	_, err := e.stdout.Write(b.Bytes())
	return err
}

// explainNoReply turns the two ways a link that does not understand a
// message answers it (it closes the connection, or waits for the rest of a
// frame whose length it read differently) into a hint at the usual cause.
func explainNoReply(err error, f *sendFlags) error {
	hint := fmt.Sprintf("does %s speak %s with %s framing? (wrong --dialect or --framing for the port?)", f.addr, f.dialect, f.framing)
	if !f.on {
		hint += " Or is it a TLS link (--tls)?"
	}
	var ne interface{ Timeout() bool }
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("no reply within %v: %s", f.timeout, hint)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return fmt.Errorf("the switch closed the connection without a reply (%v): %s", err, hint)
	case strings.HasPrefix(err.Error(), "client: reply: "):
		return fmt.Errorf("%v: %s", err, hint)
	}
	return err
}

// checkRequestMTI refuses what the switch would not answer: a response
// (0210), an advice response or a notification; send sends requests and
// advices and waits for their answer.
func checkRequestMTI(name, s string) error {
	mti, ok := codec.ParseMTI(s)
	if !ok {
		return fmt.Errorf("%s %q is not 4 digits", name, s)
	}
	if !mti.IsRequest() {
		req := mti
		req[2] = '0'
		if mti.Function() == '3' {
			req[2] = '2'
		}
		return fmt.Errorf("%s %s is not a request or an advice (third digit 0 or 2, e.g. %s): the switch does not answer it", name, s, req)
	}
	return nil
}

// fieldFlags names the flag each field of a built message comes from.
var fieldFlags = map[int]string{2: "--pan", 3: "--proc", 4: "--amount", 11: "--stan", 14: "--expiry",
	22: "--entry-mode", 41: "--terminal", 42: "--merchant", 49: "--currency", 52: "--pin", 70: "--netcode"}

// flagFor names the flag that set field id: --field N when it was given
// that way, else the field's own flag ("" when none did).
func (f *sendFlags) flagFor(id int) string {
	for _, kv := range f.fields {
		if k, _, _ := strings.Cut(kv, "="); k == strconv.Itoa(id) {
			return "--field " + k
		}
	}
	return fieldFlags[id]
}

// buildMessage makes a request from flags, with demo-data defaults.
func buildMessage(d *codec.Dialect, f *sendFlags, now time.Time) (codec.Message, error) {
	if err := checkRequestMTI("--mti", f.mti); err != nil {
		return codec.Message{}, err
	}
	mti, _ := codec.ParseMTI(f.mti)
	if f.amount < 0 || f.amount > 999_999_999_999 {
		return codec.Message{}, fmt.Errorf("--amount %d: must be 0 to 999999999999 (minor units, 12 digits)", f.amount)
	}
	cup := d.Name == codec.CUPPOS
	def := func(v *string, iso, cupv string) {
		if *v == "" {
			*v = iso
			if cup {
				*v = cupv
			}
		}
	}
	if f.chip {
		def(&f.pan, demoChipPAN, "6228480402564890018")
		def(&f.entry, "051", "051")
	}
	def(&f.pan, "4761739001010010", "6228480402564890018")
	def(&f.entry, "012", "012")
	def(&f.terminal, "TERM0001", "12345678")
	def(&f.merchant, "MERCHANT0000001", "123456789012345")
	def(&f.currency, "840", "156")
	if f.stan == "" {
		f.stan = sendSTAN(f.terminal, now)
	}
	fields := map[string]string{"11": f.stan, "41": f.terminal, "42": f.merchant}
	set := func(id int, v string) {
		if d.Field(id) != nil {
			fields[strconv.Itoa(id)] = v
		}
	}
	if !cup {
		set(7, now.UTC().Format("0102150405"))
	}
	if mti.Class() == '8' {
		if cup {
			set(60, "00000001"+f.netcode)
		} else {
			set(70, f.netcode)
			delete(fields, "41")
			delete(fields, "42")
		}
	} else {
		set(2, f.pan)
		set(3, f.proc)
		set(4, fmt.Sprintf("%012d", f.amount))
		set(12, now.Format("150405"))
		set(13, now.Format("0102"))
		set(14, f.expiry)
		set(22, f.entry)
		set(25, "00")
		set(49, f.currency)
		if cup {
			set(60, "22000001000")
			delete(fields, "12")
			delete(fields, "13")
		}
	}
	for i, kv := range f.fields {
		k, v, ok := strings.Cut(kv, "=")
		if _, err := strconv.Atoi(k); !ok || err != nil {
			// the value may be a card number or track data: not echoed
			return codec.Message{}, fmt.Errorf("--field number %d: want N=VALUE", i+1)
		}
		fields[k] = v
	}
	m := codec.Message{MTI: f.mti, Fields: fields}
	if d.HeaderLen > 0 {
		m.Header = f.header
	}
	return m, nil
}
