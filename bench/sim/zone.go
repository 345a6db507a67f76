package sim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/hsm"
)

// Zone keys, as a host holds them in its own HSM: here in clear (the
// simulator has no HSM). With a ZPK the simulator decrypts field 52 (ISO
// format 0 with the PAN) and checks the PIN against Config.PIN; with a ZAK
// it verifies requests' MACs and MACs its replies; with a ZMK it takes
// key changes (0800, 70 = Config.KeyChangeCode: 53 "01..." a ZPK, "02..."
// a ZAK; 48 the key under the ZMK in 32 hex digits and its check value in
// 6) and sends its own (ChangeKey). A replaced key stays usable as the
// previous one (requests MACed or PIN blocks made under it before the
// peer installed the new key), and a proposed key is tried while its
// change is answered: one of each, no more.

// zoneKeys are the keys in force, replaced whole.
type zoneKeys struct {
	zpk, zpkPrev hsm.Key
	zak, zakPrev *macKey
}

// zone is the issuer's key material.
type zone struct {
	zmk     hsm.Key // invalid: no key exchange
	pin     hsm.PIN // the PIN every card has; invalid: PINs are not checked
	macAlg  hsm.MACAlgorithm
	code    uint64 // the key change's field 70
	keys    atomic.Pointer[zoneKeys]
	mu      sync.Mutex // guards pending and changing
	pending *pendingChange
}

// pendingChange is a key change the simulator sent, waiting for its 0810.
type pendingChange struct {
	stan   uint32
	zpk    hsm.Key // the proposed key (one of the two is valid)
	zak    *macKey
	answer chan [2]byte // cap 1
}

func parseClearKey(name, s string) (hsm.Key, error) {
	if s == "" {
		return hsm.Key{}, nil
	}
	k, err := hsm.ParseTDESKey(s, hsm.ParityIgnore)
	if err != nil || k.Len() != 16 {
		return hsm.Key{}, fmt.Errorf("sim: %s: a double-length TDES key in 32 hex digits", name)
	}
	return k, nil
}

// newZone compiles the configuration's zone keys.
func newZone(c Config) (*zone, error) {
	z := &zone{code: uint64(c.KeyChangeCode)}
	if z.code == 0 {
		z.code = 161
	}
	var err error
	if z.zmk, err = parseClearKey("ZMK", c.ZMK); err != nil {
		return nil, err
	}
	k := &zoneKeys{}
	if k.zpk, err = parseClearKey("ZPK", c.ZPK); err != nil {
		return nil, err
	}
	if c.PIN != "" {
		if z.pin, err = hsm.ParsePIN(c.PIN); err != nil {
			return nil, fmt.Errorf("sim: PIN: 4 to 12 digits")
		}
	}
	method := c.ZoneMAC
	if method == "" {
		method = "x919"
	}
	alg, ok := hsm.MACMethods[method]
	if !ok {
		return nil, fmt.Errorf("sim: ZoneMAC: %q must be x919, alg1, cmac or cup", method)
	}
	z.macAlg = alg
	if c.ZAK != "" {
		zk, err := parseClearKey("ZAK", c.ZAK)
		if err != nil {
			return nil, err
		}
		k.zak = z.macKey(zk)
	}
	z.keys.Store(k)
	return z, nil
}

func (z *zone) macKey(k hsm.Key) *macKey {
	return &macKey{alg: z.macAlg, pad: hsm.MACPaddingFor(z.macAlg), key: k}
}

// checkZoneMAC verifies the request's MAC under the ZAK, the previous one
// or a proposed one, and returns the key to MAC the reply with: the one
// that verified (the peer checks the reply under the key it sent with),
// else the ZAK in force. nil: no ZAK.
func (z *zone) checkZoneMAC(v *codec.View, scratch []byte) (*macKey, error) {
	k := z.keys.Load()
	if k.zak == nil {
		return nil, nil
	}
	tried := []*macKey{k.zak, k.zakPrev}
	z.mu.Lock()
	if z.pending != nil && z.pending.zak != nil {
		tried = append(tried, z.pending.zak)
	}
	z.mu.Unlock()
	err := errNoMAC
	for _, mk := range tried {
		if mk == nil {
			continue
		}
		if err = checkMAC(v, mk, scratch); err == nil {
			return mk, nil
		}
	}
	return k.zak, err
}

// checkPIN decrypts field 52 under the ZPK (the previous or a proposed one
// if it does not decode) and compares it with the expected PIN. ok false:
// a wrong PIN or a block that does not decode (55).
func (z *zone) checkPIN(v *codec.View, pan []byte) bool {
	var b [16]byte
	block := v.PINBlock(b[:0])
	k := z.keys.Load()
	tried := []hsm.Key{k.zpk, k.zpkPrev}
	z.mu.Lock()
	if z.pending != nil && z.pending.zpk.Valid() {
		tried = append(tried, z.pending.zpk)
	}
	z.mu.Unlock()
	for _, zpk := range tried {
		if !zpk.Valid() {
			continue
		}
		p, err := hsm.DecryptPINBlock(zpk, hsm.ISO0, block, string(pan))
		if err == nil {
			return !z.pin.Valid() || p.Equal(z.pin)
		}
	}
	return false
}

// acceptChange takes a key change the peer sent: 00 installed, 30
// malformed, 96 no ZMK or a check value that does not match (the old key
// stays).
func (z *zone) acceptChange(v *codec.View) [2]byte {
	var b53, b48 [64]byte
	f53 := v.AppendText(b53[:0], 53)
	f48 := v.AppendText(b48[:0], 48)
	if len(f53) != 16 || strings.Trim(string(f53[2:]), "0") != "" || len(f48) != 38 ||
		(string(f53[:2]) != "01" && string(f53[:2]) != "02") {
		return code30
	}
	if _, err := hex.DecodeString(string(f48[:32])); err != nil {
		return code30
	}
	k, err := hsm.DecryptUnderZMK(z.zmk, "X"+strings.ToUpper(string(f48[:32])))
	if err != nil || !strings.EqualFold(k.KCV(), string(f48[32:])) {
		return code96
	}
	z.install(string(f53[:2]), k)
	return code00
}

// install makes k the key of kind in force, the old one the previous.
func (z *zone) install(kind string, k hsm.Key) {
	for {
		old := z.keys.Load()
		next := *old
		if kind == "01" {
			next.zpk, next.zpkPrev = k, old.zpk
		} else {
			next.zak, next.zakPrev = z.macKey(k), old.zak
		}
		if z.keys.CompareAndSwap(old, &next) {
			return
		}
	}
}

// answered hands the 0810 of the simulator's own key change to ChangeKey.
// false: not one (an echo test's answer, say).
func (z *zone) answered(v *codec.View) bool {
	stan, _ := v.STAN()
	z.mu.Lock()
	p := z.pending
	z.mu.Unlock()
	if p == nil || p.stan != stan {
		return false
	}
	var rc [2]byte
	copy(rc[:], v.AppendText(nil, codec.FieldResponseCode))
	select {
	case p.answer <- rc:
	default:
	}
	return true
}

// KeyChange is a key change the simulator sends (ChangeKey).
type KeyChange struct {
	Key      string // "zpk" or "zak"
	WrongKCV bool   // send a check value that does not match (the peer must refuse it)
}

// ChangeKey sends the peer a new key on one of its connections and returns
// once it answered: nil when it answered 00 (the simulator then uses the
// new key), an error otherwise (the old key stays). One change at a time.
func (is *Issuer) ChangeKey(ctx context.Context, kc KeyChange) error {
	z := is.zone
	if !z.zmk.Valid() {
		return errors.New("sim: no ZMK: no key exchange")
	}
	var kind string
	switch kc.Key {
	case "zpk":
		kind = "01"
	case "zak":
		kind = "02"
	default:
		return fmt.Errorf("sim: key %q: zpk or zak", kc.Key)
	}
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	hsm.FixParity(raw)
	k, err := hsm.NewTDESKey(raw, hsm.ParityOdd)
	if err != nil {
		return err
	}
	under, err := hsm.EncryptUnderZMK(z.zmk, hsm.SchemeX, k)
	if err != nil {
		return err
	}
	kcv := k.KCV()
	if kc.WrongKCV {
		kcv = "000000"
		if k.KCV() == kcv {
			kcv = "111111"
		}
	}
	p := &pendingChange{stan: is.stan.Add(1)%999999 + 1, answer: make(chan [2]byte, 1)}
	if kind == "01" {
		p.zpk = k
	} else {
		p.zak = z.macKey(k)
	}
	z.mu.Lock()
	if z.pending != nil {
		z.mu.Unlock()
		return errors.New("sim: a key change is in progress")
	}
	z.pending = p
	z.mu.Unlock()
	defer func() {
		z.mu.Lock()
		z.pending = nil
		z.mu.Unlock()
	}()
	frame, err := is.keyChangeFrame(p.stan, kind, under[1:]+kcv)
	if err != nil {
		return err
	}
	c := is.anyConn()
	if c == nil || !c.send(frame, 1) {
		return errors.New("sim: no connection to send the key change on")
	}
	t := time.NewTimer(10 * time.Second) // bounded even when ctx is not
	defer t.Stop()
	select {
	case rc := <-p.answer:
		if rc != code00 {
			return fmt.Errorf("sim: key change answered %s", rc[:])
		}
		z.install(kind, k)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errors.New("sim: key change unanswered")
	}
}

// keyChangeFrame builds a framed 0800 key change: 7, 11, 48, 53, 70.
func (is *Issuer) keyChangeFrame(stan uint32, kind, f48 string) ([]byte, error) {
	var b codec.Builder
	return is.netRequest(&b, nil, time.Now(), stan, int(is.zone.code), func(b *codec.Builder) {
		b.String(48, f48)
		b.String(53, kind+"00000000000000")
	})
}

// anyConn is one of the open connections (nil: none).
func (is *Issuer) anyConn() *conn {
	is.mu.Lock()
	defer is.mu.Unlock()
	for c := range is.conns {
		return c
	}
	return nil
}

// isKeyChange reports an 0800 whose 70 is the key change code, for an
// issuer with a ZMK (without, the code is unknown to it: 12).
func (z *zone) isKeyChange(v *codec.View) bool {
	code, ok := v.NetworkCode()
	return ok && z.zmk.Valid() && uint64(code) == z.code
}
