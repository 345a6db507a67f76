package engine

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cardswitch/cardswitch/bench/sim"
	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/internal/client"
	"github.com/cardswitch/cardswitch/internal/tlsfiles"
)

// testPKI is a CA made for one test, and the certificates it issues, in
// files under the test's directory.
type testPKI struct {
	t      testing.TB
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caFile string
	serial int64
}

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &testPKI{t: t, dir: t.TempDir(), ca: ca, caKey: key, serial: 1}
	p.caFile = p.write("ca.pem", "CERTIFICATE", der)
	return p
}

func (p *testPKI) write(name, kind string, der []byte) string {
	p.t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// issue makes a certificate for 127.0.0.1 (server and client use) valid
// from notBefore to notAfter, named name, in name.pem and name.key.
func (p *testPKI) issue(name string, notBefore, notAfter time.Time) (certFile, keyFile string, cert *x509.Certificate) {
	p.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: name},
		NotBefore: notBefore, NotAfter: notAfter, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		p.t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		p.t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	return p.write(name+".pem", "CERTIFICATE", der), p.write(name+".key", "PRIVATE KEY", kder), cert
}

// valid issues a certificate valid now.
func (p *testPKI) valid(name string) (certFile, keyFile string, cert *x509.Certificate) {
	return p.issue(name, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
}

// startTLS runs a one-link server whose link is TLS with tc.
func startTLS(t testing.TB, tc TLSConfig) *testServer {
	t.Helper()
	return startServer(t, nil, func(c *Config) { c.Links[0].TLS = &tc })
}

// dialTLS connects to the test server's TLS link as a client with the
// given certificate (empty: none), trusting the test CA.
func (ts *testServer) dialTLS(t testing.TB, p *testPKI, cert, key string) (*client.Conn, error) {
	t.Helper()
	cfg, err := tlsfiles.Client(cert, key, p.caFile, "")
	if err != nil {
		t.Fatal(err)
	}
	d, _ := codec.Lookup(ts.link.Dialect)
	f, _ := codec.ParseFraming(ts.link.Framing)
	c, err := client.DialTLS(ts.addr, d, f, nil, 5*time.Second, cfg)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// approve sends a purchase on c and wants it approved.
func approve(t testing.TB, c *client.Conn, stan int) {
	t.Helper()
	r, err := c.RoundTrip(purchase(t, stan, 1000), 5*time.Second)
	if err != nil {
		t.Fatalf("purchase %d: %v", stan, err)
	}
	if got := field(r, 39); got != "00" {
		t.Fatalf("purchase %d: 39 = %s, want 00", stan, got)
	}
}

// refused wants the switch to refuse c's client: with TLS 1.3 the client's
// handshake ends before the server has checked its certificate, so the
// refusal is the alert a purchase gets instead of a reply.
func refused(t testing.TB, ts *testServer, c *client.Conn, dialErr error, want string) {
	t.Helper()
	err := dialErr
	if err == nil {
		_, err = c.RoundTrip(purchase(t, 1, 1000), 5*time.Second)
	}
	if err == nil {
		t.Fatalf("%s: the switch answered", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("refused with %v, want %q", err, want)
	}
	waitUntil(t, "the handshake failure counted", func() bool { return testutil.ToFloat64(ts.links[0].metrics.tlsFailed) >= 1 })
	waitUntil(t, "the refused connection released", func() bool { return ts.links[0].nConns.Load() == 0 })
}

func TestTLSLinkMutualHandshake(t *testing.T) {
	p := newPKI(t)
	cert, key, _ := p.valid("switch")
	ts := startTLS(t, TLSConfig{Cert: cert, Key: key, CA: p.caFile})
	ccert, ckey, _ := p.valid("terminal")
	c, err := ts.dialTLS(t, p, ccert, ckey)
	if err != nil {
		t.Fatal(err)
	}
	approve(t, c, 1)
	approve(t, c, 2)
	if ls := ts.LinkStates(); !ls[0].TLS || ls[0].Conns != 1 {
		t.Fatalf("GET /links: %+v, want the TLS link with its connection", ls[0])
	}
	st := c.Raw().(*tls.Conn).ConnectionState()
	if st.Version != tls.VersionTLS13 || st.PeerCertificates[0].Subject.CommonName != "switch" {
		t.Fatalf("version %x, server %q", st.Version, st.PeerCertificates[0].Subject.CommonName)
	}
	// counted once written, a moment after the client may read it
	waitUntil(t, "the link's metrics counting both approvals", func() bool {
		return testutil.ToFloat64(ts.m.messages.WithLabelValues("pos", "0200", "00")) == 2
	})
}

func TestTLSLinkRefusesClientWithoutCertificate(t *testing.T) {
	p := newPKI(t)
	cert, key, _ := p.valid("switch")
	ts := startTLS(t, TLSConfig{Cert: cert, Key: key, CA: p.caFile})
	c, err := ts.dialTLS(t, p, "", "")
	refused(t, ts, c, err, "certificate required")
}

func TestTLSLinkRefusesExpiredCertificate(t *testing.T) {
	p := newPKI(t)
	cert, key, _ := p.valid("switch")
	ts := startTLS(t, TLSConfig{Cert: cert, Key: key, CA: p.caFile})
	ccert, ckey, _ := p.issue("expired", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	c, err := ts.dialTLS(t, p, ccert, ckey)
	refused(t, ts, c, err, "expired certificate")
}

func TestTLSLinkPinsClientKey(t *testing.T) {
	p := newPKI(t)
	cert, key, _ := p.valid("switch")
	gcert, gkey, good := p.valid("pinned")
	ts := startTLS(t, TLSConfig{Cert: cert, Key: key, CA: p.caFile, Pin: []string{PinOf(good)}})
	c, err := ts.dialTLS(t, p, gcert, gkey)
	if err != nil {
		t.Fatal(err)
	}
	approve(t, c, 1)
	c.Close()
	waitUntil(t, "the pinned client gone", func() bool { return ts.links[0].nConns.Load() == 0 })
	ocert, okey, _ := p.valid("other") // the same CA, another key
	c, err = ts.dialTLS(t, p, ocert, okey)
	refused(t, ts, c, err, "bad certificate")
}

func TestTLSReloadSwapsCertificate(t *testing.T) {
	p := newPKI(t)
	one, oneKey, _ := p.valid("one")
	cert, key := filepath.Join(p.dir, "switch.pem"), filepath.Join(p.dir, "switch.key")
	install := func(c, k string) {
		for _, f := range [][2]string{{c, cert}, {k, key}} {
			b, err := os.ReadFile(f[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f[1], b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	install(one, oneKey)
	ts := startTLS(t, TLSConfig{Cert: cert, Key: key})
	served := func(c *client.Conn) string {
		return c.Raw().(*tls.Conn).ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	old, err := ts.dialTLS(t, p, "", "")
	if err != nil {
		t.Fatal(err)
	}
	approve(t, old, 1)
	two, twoKey, _ := p.valid("two")
	install(two, twoKey)
	if n, err := ts.ReloadTLS(); err != nil || n != 1 {
		t.Fatalf("reload: %d sections, %v", n, err)
	}
	c, err := ts.dialTLS(t, p, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := served(c); got != "two" {
		t.Fatalf("a handshake after the reload got certificate %q, want two", got)
	}
	approve(t, c, 2)
	approve(t, old, 3) // the connection made before the reload goes on
	if got := served(old); got != "one" {
		t.Fatalf("the open connection's certificate is %q, want one", got)
	}
	// a reload whose files fail leaves the certificate in force
	if err := os.WriteFile(key, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.ReloadTLS(); err == nil || !strings.Contains(err.Error(), "links[0].tls") {
		t.Fatalf("reload of a broken key: %v, want an error naming links[0].tls", err)
	}
	c, err = ts.dialTLS(t, p, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := served(c); got != "two" {
		t.Fatalf("after a failed reload the certificate is %q, want two still", got)
	}
}

func TestTLSDestinationForwardsPurchase(t *testing.T) {
	p := newPKI(t)
	hcert, hkey, _ := p.valid("issuer-host")
	scfg, err := tlsfiles.Server(hcert, hkey, p.caFile) // the host wants the switch's client certificate
	if err != nil {
		t.Fatal(err)
	}
	is := startSim(t, "", sim.Config{Rules: sim.Rules{Default: "00"}, TLS: scfg})
	ccert, ckey, _ := p.valid("switch-client")
	dc := dest("visa", Endpoint{Address: is.Addr()})
	dc.TLS = &TLSConfig{CA: p.caFile, Cert: ccert, Key: ckey, MinVersion: "1.3"}
	_, _, other := p.valid("someone-else")
	bad := dest("pinned", Endpoint{Address: is.Addr()})
	bad.TLS = &TLSConfig{CA: p.caFile, Cert: ccert, Key: ckey, Pin: []string{PinOf(other)}}
	ts := forwarding(t, []DestinationConfig{dc, bad}, nil)
	waitUp(t, ts, "visa", 1)
	c := ts.dial(t)
	r, err := c.RoundTrip(card0200(t, "4761739001010010", 11, 1000), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := field(r, 39); got != "00" || is.Stats().Answered["00"] != 1 {
		t.Fatalf("39 = %s, host answered %v: want the host's 00 over TLS", got, is.Stats().Answered)
	}
	if st := ts.Destinations(); !st[0].TLS || !st[0].Conns[0].Up {
		t.Fatalf("GET /destinations: %+v, want visa up over TLS", st[0])
	}
	pinned := ts.dests["pinned"]
	waitUntil(t, "the pin mismatch counted", func() bool { return testutil.ToFloat64(pinned.m.tlsFailed) >= 1 })
	if pinned.pool.Up(0) {
		t.Fatal("a destination whose key matches no pin is up")
	}
	oc := pinned.conns[0]
	oc.mu.Lock()
	e := oc.lastErr
	oc.mu.Unlock()
	if !strings.Contains(e, "pin") {
		t.Fatalf("the pinned destination's last error is %q, want the pin mismatch", e)
	}
}

// Pins are read in both forms, whatever their base64 begins with.
func TestParsePins(t *testing.T) {
	var slash [32]byte
	slash[0] = 0xfc // base64 "/..."
	b64 := base64.StdEncoding.EncodeToString(slash[:])
	for _, p := range []string{"sha256/" + b64, "sha256//" + b64, hex.EncodeToString(slash[:])} {
		got, err := ParsePins([]string{p})
		if err != nil || got[0] != slash {
			t.Errorf("%s: %x, %v", p, got, err)
		}
	}
	if _, err := ParsePins([]string{"sha256/" + b64[:20]}); err == nil {
		t.Error("a short pin was read")
	}
}

func TestTLSConfigErrors(t *testing.T) {
	p := newPKI(t)
	cert, key, _ := p.valid("switch")
	_, otherKey, _ := p.valid("other")
	expired, expiredKey, _ := p.issue("old", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	for _, c := range []struct {
		tls  TLSConfig
		want string
	}{
		{TLSConfig{Cert: filepath.Join(p.dir, "missing.pem"), Key: key}, "links[0].tls.cert: open"},
		{TLSConfig{Cert: cert, Key: otherKey}, "links[0].tls.key: " + otherKey + " is not the key of " + cert},
		{TLSConfig{Cert: cert, Key: key, MinVersion: "1.1"}, `links[0].tls.min_version: "1.1" must be "1.2" or "1.3"`},
		{TLSConfig{Cert: expired, Key: expiredKey}, "links[0].tls.cert: " + expired + " expired on"},
		{TLSConfig{Cert: cert, Key: key, CA: key}, "links[0].tls.ca: " + key + " holds no PEM certificate"},
		{TLSConfig{Cert: cert, Key: key, CA: p.caFile, Pin: []string{"abc"}}, `links[0].tls.pin: "abc" is not sha256/BASE64`},
		{TLSConfig{Cert: cert, Key: key, Pin: []string{strings.Repeat("ab", 32)}}, "links[0].tls.pin: pinning client keys needs ca"},
		{TLSConfig{CA: p.caFile}, "links[0].tls: a link's TLS needs cert and key"},
	} {
		cfg := Config{Links: []LinkConfig{{Name: "pos", Listen: "127.0.0.1:0", Dialect: codec.ISO87ASCII, Framing: "binary2", TLS: &c.tls}}}
		cfg.setDefaults()
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.tls, err, c.want)
		}
	}
}

// The connections a destination opens (listen) are TLS too: the switch
// serves its certificate and, with ca, wants the host's; a host without
// one is refused, one with it signs on and is forwarded to.
func TestTLSDestinationListenForwardsPurchase(t *testing.T) {
	p := newPKI(t)
	scert, skey, _ := p.valid("switch")
	dc := listenDest("net")
	dc.SignOn = true
	dc.TLS = &TLSConfig{Cert: scert, Key: skey, CA: p.caFile}
	ts := forwarding(t, []DestinationConfig{dc}, nil)
	d := ts.dests["net"]

	anon, err := tlsfiles.Client("", "", p.caFile, "")
	if err != nil {
		t.Fatal(err)
	}
	dialSim(t, ts, "net", sim.Config{SignOn: true, Rules: sim.Rules{Default: "00"}, TLS: anon})
	waitUntil(t, "the host without a certificate refused", func() bool { return testutil.ToFloat64(d.m.tlsFailed) >= 1 })
	if testutil.ToFloat64(d.in.accepted) != 0 {
		t.Fatal("a host without a client certificate was accepted")
	}

	hcert, hkey, _ := p.valid("issuer-host")
	hcfg, err := tlsfiles.Client(hcert, hkey, p.caFile, "")
	if err != nil {
		t.Fatal(err)
	}
	is := dialSim(t, ts, "net", sim.Config{SignOn: true, Rules: sim.Rules{Default: "00"}, TLS: hcfg})
	waitUp(t, ts, "net", 1)
	c := ts.dial(t)
	r, err := c.RoundTrip(card0200(t, "4761739001010010", 1, 100), 5*time.Second)
	if err != nil || field(r, 39) != "00" || is.Stats().Answered["00"] != 1 {
		t.Fatalf("%v, 39 = %s, host answered %v: want the host's 00 over its TLS connection", err, field(r, 39), is.Stats().Answered)
	}
}
