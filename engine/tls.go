package engine

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// TLSConfig is a link's or a destination's TLS (links[].tls,
// destinations[].tls): certificates and keys from PEM files, read at the
// start and again on a reload (Server.ReloadTLS), so new handshakes use the
// new ones and open connections keep theirs.
type TLSConfig struct {
	// Cert and Key are the PEM certificate chain and private key this side
	// presents: required on a link and on a destination's accepted
	// connections (listen), optional on its dialled ones (the client
	// certificate, when the host asks for one).
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// CA is a PEM bundle. On a link: client certificates are required and
	// must chain to it (mutual TLS); unset, none is asked for. On a
	// destination: the host's certificate must chain to it; unset, to the
	// system's roots.
	CA string `yaml:"ca"`
	// Pin, when set, are SHA-256 digests of the peer's SubjectPublicKeyInfo
	// ("sha256/" and base64, as curl's --pinnedpubkey, or 64 hex digits):
	// the peer's certificate must carry one of these keys, on top of the
	// chain check. On a link it needs CA.
	Pin []string `yaml:"pin"`
	// MinVersion is the oldest TLS version accepted: "1.2" (default) or
	// "1.3".
	MinVersion string `yaml:"min_version"`
	// ServerName is the name a destination's certificate must carry;
	// default: the endpoint's host. Links and accepted connections ignore
	// it.
	ServerName string `yaml:"server_name"`
}

// tlsVersions are the versions min_version may name.
var tlsVersions = map[string]uint16{"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

// tlsSide says which end of the handshake a TLSConfig serves.
type tlsSide bool

const (
	tlsServer tlsSide = true  // a link: the switch accepts
	tlsClient tlsSide = false // a destination: the switch dials
)

// load reads c's files and builds the tls.Config they make, checking what
// a handshake would otherwise find late: a file missing or not PEM, a key
// that does not match its certificate, a certificate outside its validity,
// a pin that is not a SHA-256 digest, a version not served. key names the
// section in errors (links[0].tls).
func (c *TLSConfig) load(key string, side tlsSide, now time.Time) (*tls.Config, error) {
	k := func(s string) string { return key + "." + s }
	mv := c.MinVersion
	if mv == "" {
		mv = "1.2"
	}
	minV, ok := tlsVersions[mv]
	if !ok {
		return nil, fmt.Errorf("%s: %q must be \"1.2\" or \"1.3\"", k("min_version"), c.MinVersion)
	}
	cfg := &tls.Config{MinVersion: minV}
	switch {
	case side == tlsServer && (c.Cert == "" || c.Key == ""):
		return nil, fmt.Errorf("%s: a link's TLS needs cert and key", key)
	case (c.Cert == "") != (c.Key == ""):
		return nil, fmt.Errorf("%s: cert and key go together", key)
	case side == tlsServer && len(c.Pin) > 0 && c.CA == "":
		return nil, fmt.Errorf("%s: pinning client keys needs ca (client certificates are asked for only with a CA)", k("pin"))
	}
	if c.Cert != "" {
		cert, err := loadKeyPair(k("cert"), k("key"), c.Cert, c.Key, now)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if c.CA != "" {
		pool, err := loadCA(k("ca"), c.CA)
		if err != nil {
			return nil, err
		}
		if side == tlsServer {
			cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
		} else {
			cfg.RootCAs = pool
		}
	}
	if len(c.Pin) > 0 {
		pins, err := ParsePins(c.Pin)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", k("pin"), err)
		}
		cfg.VerifyConnection = func(cs tls.ConnectionState) error { return checkPin(cs, pins) }
	}
	if side == tlsServer {
		// every handshake is a full one, checked against the CA and the
		// pins in force: a resumed session would skip both, and outlive a
		// reload that withdrew them. Terminals and hosts hold their
		// connections for hours: the cost is a handshake per connection.
		cfg.SessionTicketsDisabled = true
	} else {
		cfg.ServerName = c.ServerName
	}
	return cfg, nil
}

func loadKeyPair(certKey, keyKey, certFile, keyFile string, now time.Time) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %v", certKey, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %v", keyKey, err)
	}
	if !bytes.Contains(certPEM, []byte("-----BEGIN CERTIFICATE-----")) {
		return tls.Certificate{}, fmt.Errorf("%s: %s holds no PEM certificate", certKey, certFile)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		if strings.Contains(err.Error(), "does not match") {
			return tls.Certificate{}, fmt.Errorf("%s: %s is not the key of %s (%v)", keyKey, keyFile, certFile, err)
		}
		return tls.Certificate{}, fmt.Errorf("%s and %s: %v", certKey, keyKey, err) // never the key's bytes
	}
	leaf := cert.Leaf // parsed by X509KeyPair since Go 1.23
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("%s: %v", certKey, err)
		}
		cert.Leaf = leaf
	}
	switch {
	case now.After(leaf.NotAfter):
		return tls.Certificate{}, fmt.Errorf("%s: %s expired on %s", certKey, certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return tls.Certificate{}, fmt.Errorf("%s: %s is valid only from %s", certKey, certFile, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return cert, nil
}

func loadCA(key, file string) (*x509.CertPool, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", key, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(raw) {
		return nil, fmt.Errorf("%s: %s holds no PEM certificate", key, file)
	}
	return pool, nil
}

// ParsePins reads pins: "sha256/" and the base64 of a SHA-256 digest of a
// SubjectPublicKeyInfo, or the digest as 64 hex digits.
func ParsePins(ps []string) ([][sha256.Size]byte, error) {
	out := make([][sha256.Size]byte, 0, len(ps))
	for _, p := range ps {
		var raw []byte
		var err error
		if b64, ok := strings.CutPrefix(p, "sha256/"); ok {
			raw, err = base64.StdEncoding.DecodeString(b64)
			if alt, curl := strings.CutPrefix(b64, "/"); err != nil && curl { // curl's sha256//BASE64
				raw, err = base64.StdEncoding.DecodeString(alt)
			}
		} else {
			raw, err = hex.DecodeString(p)
		}
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("%q is not sha256/BASE64 or 64 hex digits (a SHA-256 of the certificate's public key)", p)
		}
		out = append(out, [sha256.Size]byte(raw))
	}
	return out, nil
}

// PinOf is the pin of cert's public key, as pin takes it.
func PinOf(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256/" + base64.StdEncoding.EncodeToString(sum[:])
}

var errPinMismatch = errors.New("tls: the peer's public key matches no configured pin")

// checkPin runs after the chain check: the peer's leaf must carry a
// pinned key.
func checkPin(cs tls.ConnectionState, pins [][sha256.Size]byte) error {
	if len(cs.PeerCertificates) == 0 {
		return errPinMismatch
	}
	sum := sha256.Sum256(cs.PeerCertificates[0].RawSubjectPublicKeyInfo)
	for _, p := range pins {
		if subtle.ConstantTimeCompare(sum[:], p[:]) == 1 {
			return nil
		}
	}
	return errPinMismatch
}

// tlsSource is a link's or a destination's TLS at run time: the tls.Config
// in force, swapped whole by a reload. A handshake reads it once, so it
// uses either the old files or the new, and connections already made keep
// the keys they agreed.
type tlsSource struct {
	cfg  TLSConfig
	key  string // links[0].tls: in errors
	side tlsSide
	cur  atomic.Pointer[tls.Config]
}

func newTLSSource(c TLSConfig, key string, side tlsSide, now time.Time) (*tlsSource, error) {
	s := &tlsSource{cfg: c, key: key, side: side}
	cfg, err := s.cfg.load(key, side, now)
	if err != nil {
		return nil, err
	}
	s.cur.Store(cfg)
	return s, nil
}

// server is the tls.Config a listener hands every accepted connection: it
// takes the config in force at each handshake.
func (s *tlsSource) server() *tls.Config {
	return &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return s.cur.Load(), nil }}
}

// client is the tls.Config of one dial to host (the endpoint's, checked
// in the certificate unless server_name says otherwise).
func (s *tlsSource) client(host string) *tls.Config {
	c := s.cur.Load().Clone()
	if c.ServerName == "" {
		c.ServerName = host
	}
	return c
}

// ReloadTLS reads every link's and destination's certificates, keys, CAs
// and pins again and puts them in force, all or none: a file that fails
// leaves every one as it was and names the key. New handshakes use the new
// ones; open connections are not touched.
func (s *Server) ReloadTLS() (n int, err error) {
	var srcs []*tlsSource
	for _, l := range s.links {
		if l.tls != nil {
			srcs = append(srcs, l.tls)
		}
	}
	for _, d := range s.destList {
		for _, src := range []*tlsSource{d.tls, d.tlsIn} {
			if src != nil {
				srcs = append(srcs, src)
			}
		}
	}
	next := make([]*tls.Config, len(srcs))
	now := s.clock.Now()
	for i, src := range srcs {
		if next[i], err = src.cfg.load(src.key, src.side, now); err != nil {
			return 0, err
		}
	}
	for i, src := range srcs {
		src.cur.Store(next[i])
	}
	return len(srcs), nil
}
