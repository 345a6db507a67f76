// Package tlsfiles builds the tls.Config of the tools (send, bench, the
// simulators) from PEM files named on their command lines: --cert, --key,
// --ca and --server-name. The switch's own TLS is engine.TLSConfig.
//
//	cfg, err := tlsfiles.Client("client.pem", "client.key", "ca.pem", "")
//	conn, err := client.DialTLS("127.0.0.1:8583", d, f, nil, 5*time.Second, cfg)
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// Client is the configuration of a TLS client: the server's certificate
// checked against the CA bundle in ca (empty: the system's roots) for
// serverName (empty: the host dialled), and the client certificate in
// cert and key presented when they are set (mutual TLS).
func Client(cert, key, ca, serverName string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	p, err := files(c, cert, key, ca)
	if err != nil {
		return nil, err
	}
	c.RootCAs = p
	return c, nil
}

// Server is the configuration of a TLS server (a simulator the switch
// dials): its certificate and key, and with ca, client certificates
// required and checked against it.
func Server(cert, key, ca string) (*tls.Config, error) {
	if cert == "" || key == "" {
		return nil, errors.New("tls: a server needs --cert and --key")
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	p, err := files(c, cert, key, ca)
	if err != nil {
		return nil, err
	}
	if p != nil {
		c.ClientCAs, c.ClientAuth = p, tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// files loads the key pair into c and returns the CA pool (nil without ca).
func files(c *tls.Config, cert, key, ca string) (*x509.CertPool, error) {
	if err := keyPair(c, cert, key); err != nil {
		return nil, err
	}
	if ca == "" {
		return nil, nil
	}
	return pool(ca)
}

func keyPair(c *tls.Config, cert, key string) error {
	if (cert == "") != (key == "") {
		return errors.New("tls: --cert and --key go together")
	}
	if cert == "" {
		return nil
	}
	kp, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return fmt.Errorf("tls: --cert %s, --key %s: %w", cert, key, err)
	}
	c.Certificates = []tls.Certificate{kp}
	return nil
}

func pool(ca string) (*x509.CertPool, error) {
	raw, err := os.ReadFile(ca)
	if err != nil {
		return nil, fmt.Errorf("tls: --ca: %w", err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(raw) {
		return nil, fmt.Errorf("tls: --ca %s holds no PEM certificate", ca)
	}
	return p, nil
}
