package main

import (
	"encoding/hex"
	"flag"
	"fmt"
	"strings"

	"github.com/cardswitch/cardswitch/hsm"
)

func init() {
	register(&command{
		name: "hsm",
		args: "kcv | pinblock | mac | dukpt | arqc | arpc | tr31 wrap|unwrap | serve",
		summary: "HSM tools for operators; each prints one upper-case hex value per line.\n\n" +
			"kcv --key HEX                                   the key check value (TDES: 3 bytes of E(0); AES: CMAC method)\n" +
			"pinblock --format 0|1|3|4 --pin P --pan PAN [--key HEX]   the clear PIN block, or encrypted under the key\n" +
			"mac --alg x919|alg1|cmac|cup --key HEX --data HEX          the MAC\n" +
			"dukpt --bdk HEX --ksn HEX                       the initial key (IPEK), then the current transaction key\n" +
			emvSummary + "\n" +
			tr31Summary + "\n" +
			"serve [--addr 127.0.0.1:1500]                   a payShield-compatible simulator over the software HSM",
		setup: func(fs *flag.FlagSet) func([]string, *env) error {
			key := fs.String("key", "", "key in hex: 16, 32 or 48 digits (TDES) or 32, 48, 64 (AES with --aes); tr31 wrap: the key to wrap, of the header's algorithm, or under the test LMK with --key-type")
			aes := fs.Bool("aes", false, "the key is AES")
			format := fs.Int("format", 0, "PIN block format: 0, 1, 3 or 4")
			pin := fs.String("pin", "", "PIN (4 to 12 digits)")
			pan := fs.String("pan", "", "PAN")
			alg := fs.String("alg", "x919", "MAC algorithm: x919, alg1, cmac, cup")
			data := fs.String("data", "", "data in hex")
			bdk := fs.String("bdk", "", "DUKPT base derivation key in hex")
			ksn := fs.String("ksn", "", "key serial number in hex (20 digits)")
			addr := fs.String("addr", "127.0.0.1:1500", "serve: listen address")
			var ef emvFlags
			fs.StringVar(&ef.cvn, "cvn", "", "arqc, arpc: cryptogram version (visa-cvn10, visa-cvn18, mchip-cvn16, mchip-cvn17)")
			fs.StringVar(&ef.imk, "imk", "", "arqc, arpc: issuer master key for ACs, 32 hex digits or U+32 under the test LMK")
			fs.StringVar(&ef.psn, "psn", "", "arqc, arpc: PAN sequence number, 2 digits (default: 5F34, else 00)")
			fs.StringVar(&ef.icc, "icc", "", "arqc: the ICC data (field 55) in hex")
			fs.StringVar(&ef.option, "option", "", "arqc, arpc: ICC master key derivation a or b (default: b for visa-cvn18, else a)")
			fs.StringVar(&ef.arqc, "arqc", "", "arpc: the ARQC, 16 hex digits")
			fs.StringVar(&ef.arc, "arc", "", "arpc: authorisation response code, 00 or 3030 (method 1)")
			fs.StringVar(&ef.csu, "csu", "", "arpc: card status update, 8 hex digits (method 2)")
			fs.StringVar(&ef.prop, "prop", "", "arpc: proprietary authentication data, 0-16 hex digits (method 2)")
			fs.StringVar(&ef.atc, "atc", "", "arpc: the ATC, 4 hex digits (method 2: the session key)")
			var tf tr31Flags
			fs.StringVar(&tf.kbpk, "kbpk", "", "tr31: key block protection key, hex (TDES for version B, AES for D) or U/T+hex under the test LMK (type 000)")
			fs.StringVar(&tf.header, "header", "", "tr31 wrap: the key block header, e.g. B0000P0TE00E0000 (length recomputed), optional blocks included")
			fs.StringVar(&tf.keyType, "key-type", "", "tr31: LMK key type of --key given as a cryptogram (wrap), or to print the unwrapped key under (unwrap)")
			fs.StringVar(&tf.block, "block", "", "tr31 unwrap: the key block")
			fs.IntVar(&tf.mask, "mask", 0, "tr31 wrap: pad the key as if it were N bytes long, to hide its length")
			fs.BoolVar(&tf.reveal, "reveal", false, "tr31 unwrap: print the key in clear even when --kbpk is under the LMK")
			return func(args []string, e *env) error {
				if len(args) == 2 && args[0] == "tr31" {
					tf.key, tf.aes = *key, *aes
					out, err := toolTR31(args[1], &tf)
					if err != nil {
						return err
					}
					for _, line := range out {
						fmt.Fprintln(e.stdout, strings.ToUpper(line))
					}
					return nil
				}
				if len(args) == 1 && args[0] == "tr31" {
					return usagef("say hsm tr31 wrap or hsm tr31 unwrap")
				}
				if len(args) != 1 {
					return usagef("say kcv, pinblock, mac, dukpt, arqc, arpc, tr31 wrap|unwrap or serve")
				}
				var out []string
				var err error
				switch args[0] {
				case "kcv":
					out, err = toolKCV(*key, *aes)
				case "pinblock":
					out, err = toolPINBlock(*format, *pin, *pan, *key, *aes)
				case "mac":
					out, err = toolMAC(*alg, *key, *data, *aes)
				case "dukpt":
					out, err = toolDUKPT(*bdk, *ksn)
				case "arqc":
					ef.pan = *pan
					out, err = toolARQC(&ef)
				case "arpc":
					ef.pan = *pan
					out, err = toolARPC(&ef)
				case "serve":
					return serveHSM(e, *addr)
				default:
					return usagef("unknown subcommand %q", args[0])
				}
				if err != nil {
					return err
				}
				for _, line := range out {
					fmt.Fprintln(e.stdout, strings.ToUpper(line))
				}
				return nil
			}
		},
	})
}

func parseKey(h string, aes bool) (hsm.Key, error) {
	if h == "" {
		return hsm.Key{}, usagef("--key is required")
	}
	if aes {
		return hsm.ParseAESKey(h)
	}
	return hsm.ParseTDESKey(h, hsm.ParityIgnore)
}

func toolKCV(h string, aes bool) ([]string, error) {
	k, err := parseKey(h, aes)
	if err != nil {
		return nil, err
	}
	return []string{k.KCV()}, nil
}

var pinFormats = map[int]hsm.PINBlockFormat{0: hsm.ISO0, 1: hsm.ISO1, 3: hsm.ISO3, 4: hsm.ISO4}

func toolPINBlock(format int, pin, pan, keyHex string, aes bool) ([]string, error) {
	f, ok := pinFormats[format]
	if !ok {
		return nil, usagef("--format must be 0, 1, 3 or 4")
	}
	p, err := hsm.ParsePIN(pin)
	if err != nil {
		return nil, err
	}
	if keyHex == "" {
		b, err := hsm.EncodePINBlock(f, p, pan, nil)
		if err != nil {
			return nil, err
		}
		return []string{hex.EncodeToString(b)}, nil
	}
	k, err := parseKey(keyHex, aes || format == 4)
	if err != nil {
		return nil, err
	}
	b, err := hsm.EncryptPINBlock(k, f, p, pan, nil)
	if err != nil {
		return nil, err
	}
	return []string{hex.EncodeToString(b)}, nil
}

func toolMAC(alg, keyHex, dataHex string, aes bool) ([]string, error) {
	a, ok := hsm.MACMethods[alg]
	if !ok {
		return nil, usagef("--alg must be x919, alg1, cmac or cup")
	}
	k, err := parseKey(keyHex, aes)
	if err != nil {
		return nil, err
	}
	data, err := hex.DecodeString(dataHex)
	if err != nil {
		return nil, usagef("--data is not hex")
	}
	pad := hsm.MACPaddingFor(a)
	m, err := hsm.GenerateMAC(k, a, pad, data)
	if err != nil {
		return nil, err
	}
	return []string{hex.EncodeToString(m)}, nil
}

func toolDUKPT(bdkHex, ksnHex string) ([]string, error) {
	bdk, err := parseKey(bdkHex, false)
	if err != nil {
		return nil, err
	}
	ksn, err := hex.DecodeString(ksnHex)
	if err != nil {
		return nil, usagef("--ksn is not hex")
	}
	ipek, err := hsm.DUKPTIPEK(bdk, ksn)
	if err != nil {
		return nil, err
	}
	txn, err := hsm.DUKPTTransactionKey(ipek, ksn)
	if err != nil {
		return nil, err
	}
	return []string{hex.EncodeToString(hsm.RevealKey(ipek)), hex.EncodeToString(hsm.RevealKey(txn))}, nil
}
