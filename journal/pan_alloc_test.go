package journal

import (
	"testing"

	"github.com/cardswitch/cardswitch/internal/proc"
)

// A PAN's keyed hash allocates nothing (the authorizer and the record
// take one per message), and protecting a record allocates its two
// stored forms only: the masked PAN and the sealed one (nonce and
// ciphertext in one buffer).
func TestProtectAllocs(t *testing.T) {
	if proc.Race {
		t.Skip("the race detector's sync.Pool drops items: the counts are not the switch's")
	}
	p, _ := NewProtector(make([]byte, KeyFileLen))
	card := []byte("4761739001010010")
	p.HashPAN(card) // the pool's first HMAC
	if n := testing.AllocsPerRun(100, func() { p.HashPAN(card) }); n != 0 {
		t.Errorf("HashPAN: %.1f allocations", n)
	}
	var r Record
	h := [32]byte{1, 2, 3} // a sentinel: ProtectHashed takes the hash it is given, it does not hash again
	if n := testing.AllocsPerRun(100, func() { _ = p.ProtectHashed(&r, card, h) }); n > 2 {
		t.Errorf("ProtectHashed: %.1f allocations, want at most 2", n)
	}
	if r.PANHash != h {
		t.Fatal("ProtectHashed did not keep the hash")
	}
	if got, err := p.Unseal(&r); err != nil || string(got) != string(card) {
		t.Fatalf("unseal: %q %v", got, err)
	}
}
