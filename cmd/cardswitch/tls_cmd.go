package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cardswitch/cardswitch/engine"
)

func init() {
	register(&command{
		name: "tls",
		args: "certs | pin FILE",
		summary: "Certificates for trying TLS links, and the pin of a certificate.\n\n" +
			"'tls certs --dir DIR' writes a test CA (ca.pem, ca.key), a server certificate (server.pem,\n" +
			"server.key) and a client certificate (client.pem, client.key) it signed, for --hosts, valid\n" +
			"--days: enough for links[].tls with mutual TLS and for send, bench and sim --tls. They are for\n" +
			"tests and trials: production certificates come from your PKI. It refuses to overwrite a file.\n" +
			"'tls pin FILE' prints the pin of the first certificate in FILE (sha256/ and the base64 SHA-256\n" +
			"of its public key) as links[].tls.pin and destinations[].tls.pin take it.",
		setup: func(fs *flag.FlagSet) func([]string, *env) error {
			dir := fs.String("dir", "", "certs: directory to write the files in (created if missing)")
			hosts := fs.String("hosts", "127.0.0.1,localhost", "certs: comma-separated IPs and names the server certificate is for")
			days := fs.Int("days", 365, "certs: days the certificates are valid")
			return func(args []string, e *env) error {
				switch {
				case len(args) == 1 && args[0] == "certs":
					if *dir == "" {
						return usagef("certs needs --dir")
					}
					if *days < 1 || *days > 3650 {
						return usagef("--days %d: 1 to 3650", *days)
					}
					if err := writeTestCerts(*dir, strings.Split(*hosts, ","), time.Duration(*days)*24*time.Hour); err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "wrote ca.pem, ca.key, server.pem, server.key, client.pem, client.key in %s\n", *dir)
					return nil
				case len(args) == 2 && args[0] == "pin":
					pin, err := pinOfFile(args[1])
					if err != nil {
						return err
					}
					fmt.Fprintln(e.stdout, pin)
					return nil
				}
				return usagef("say 'certs --dir DIR' or 'pin FILE'")
			}
		},
	})
}

// pinOfFile is the pin of the first certificate in a PEM file.
func pinOfFile(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	for {
		var b *pem.Block
		if b, raw = pem.Decode(raw); b == nil {
			return "", fmt.Errorf("%s holds no PEM certificate", path)
		}
		if b.Type == "CERTIFICATE" {
			cert, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return "", fmt.Errorf("%s: %v", path, err)
			}
			return engine.PinOf(cert), nil
		}
	}
}

// writeTestCerts writes a CA and a server and a client certificate it
// signed (ECDSA P-256) in dir.
func writeTestCerts(dir string, hosts []string, valid time.Duration) error {
	names := []string{"ca.pem", "ca.key", "server.pem", "server.key", "client.pem", "client.key"}
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return fmt.Errorf("%s exists: not overwritten", filepath.Join(dir, n))
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	now := time.Now().Add(-time.Minute) // a clock a little behind still accepts them
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "cardswitch test CA"},
		NotBefore: now, NotAfter: now.Add(valid), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, _ := x509.ParseCertificate(caDER)
	if err := writePEMPair(dir, "ca", caDER, caKey); err != nil {
		return err
	}
	server := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "cardswitch"},
		NotBefore: now, NotAfter: now.Add(valid), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range hosts {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			server.IPAddresses = append(server.IPAddresses, ip)
		} else {
			server.DNSNames = append(server.DNSNames, h)
		}
	}
	if len(server.IPAddresses)+len(server.DNSNames) == 0 {
		return errors.New("--hosts: at least one IP or name")
	}
	client := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "cardswitch test client"},
		NotBefore: now, NotAfter: now.Add(valid), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	for name, tmpl := range map[string]*x509.Certificate{"server": server, "client": client} {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		if err := writePEMPair(dir, name, der, key); err != nil {
			return err
		}
	}
	return nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	return n
}

// writePEMPair writes NAME.pem (the certificate) and NAME.key (its key,
// PKCS #8, readable by the owner only).
func writePEMPair(dir, name string, der []byte, key *ecdsa.PrivateKey) error {
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, name+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
}
