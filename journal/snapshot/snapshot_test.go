package snapshot

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// blob is a State: bytes with their length first, as a real state knows
// its own end.
type blob struct{ data []byte }

func (b *blob) WriteState(w io.Writer) error {
	_, err := fmt.Fprintf(w, "%08d%s", len(b.data), b.data)
	return err
}

func (b *blob) ReadState(r io.Reader) error {
	var n int
	if _, err := fmt.Fscanf(io.LimitReader(r, 8), "%08d", &n); err != nil {
		return err
	}
	b.data = make([]byte, n)
	_, err := io.ReadFull(r, b.data)
	return err
}

type counters struct{ rrn, appr uint64 }

func (c *counters) Counters() (uint64, uint64) { return c.rrn, c.appr }
func (c *counters) Observe(r, a uint64)        { c.rrn, c.appr = max(c.rrn, r), max(c.appr, a) }

type sessions struct{ list [][]byte }

func (s *sessions) Sessions() [][]byte { return s.list }
func (s *sessions) Restore(b []byte) error {
	s.list = append(s.list, append([]byte(nil), b...))
	return nil
}

func parts(data string, rrn, appr uint64, sess ...string) Parts {
	s := &sessions{}
	for _, x := range sess {
		s.list = append(s.list, []byte(x))
	}
	return Parts{State: &blob{[]byte(data)}, Counters: &counters{rrn, appr}, Sessions: s}
}

func TestRoundTripListAndPrune(t *testing.T) {
	dir := t.TempDir()
	fp := [16]byte{1, 2, 3}
	for _, seq := range []uint64{5, 100, 42} {
		p := Point{Seq: seq, Hash: [32]byte{byte(seq)}, Date: 20261201}
		if _, err := Write(dir, p, fp, parts(fmt.Sprintf("state at %d", seq), seq*10, seq*20, "k1", "k2")); err != nil {
			t.Fatal(err)
		}
	}
	metas, err := List(dir)
	if err != nil || len(metas) != 3 || metas[0].Point.Seq != 100 || metas[2].Point.Seq != 5 {
		t.Fatalf("list: %v %+v", err, metas)
	}
	if metas[0].Fingerprint != fp || metas[0].Point.Hash != [32]byte{100} || metas[0].Point.Date != 20261201 {
		t.Fatalf("header: %+v", metas[0])
	}
	got := Parts{State: &blob{}, Counters: &counters{}, Sessions: &sessions{}}
	if err := Load(metas[0], got); err != nil {
		t.Fatal(err)
	}
	if s := string(got.State.(*blob).data); s != "state at 100" {
		t.Fatalf("state %q", s)
	}
	if r, a := got.Counters.Counters(); r != 1000 || a != 2000 {
		t.Fatalf("counters %d %d", r, a)
	}
	if l := got.Sessions.(*sessions).list; len(l) != 2 || string(l[1]) != "k2" {
		t.Fatalf("sessions %q", l)
	}
	if err := Prune(dir, 1); err != nil {
		t.Fatal(err)
	}
	if metas, _ = List(dir); len(metas) != 1 || metas[0].Point.Seq != 100 {
		t.Fatalf("after prune: %+v", metas)
	}
}

// Every flipped byte, and a cut anywhere, is caught.
func TestCorruptionIsCaught(t *testing.T) {
	dir := t.TempDir()
	m, err := Write(dir, Point{Seq: 7}, [16]byte{}, parts("some state of the switch", 3, 4, "session"))
	if err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(m.Path)
	for i := range good {
		bad := bytes.Clone(good)
		bad[i] ^= 0x40
		os.WriteFile(m.Path, bad, 0o600)
		if err := Load(m, Parts{State: &blob{}, Counters: &counters{}, Sessions: &sessions{}}); err == nil {
			t.Fatalf("byte %d flipped: loaded", i)
		}
	}
	for _, n := range []int{0, 10, len(good) / 2, len(good) - 1} {
		os.WriteFile(m.Path, good[:n], 0o600)
		err := Load(m, Parts{State: &blob{}, Counters: &counters{}, Sessions: &sessions{}})
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cut at %d: %v", n, err)
		}
	}
}

// A corrupt length asks for no more memory than the file holds.
func TestCorruptLengthIsNoAllocation(t *testing.T) {
	dir := t.TempDir()
	m, err := Write(dir, Point{Seq: 7}, [16]byte{}, parts("state", 3, 4, "session"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(m.Path)
	at := len(magic) + headerLen                                                                          // the counters and sessions length
	bad := append(append(bytes.Clone(raw[:at]), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x07), raw[at+1:]...) // about 2^45 bytes
	os.WriteFile(m.Path, bad, 0o600)
	if err := Load(m, Parts{State: &blob{}, Counters: &counters{}, Sessions: &sessions{}}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a huge length: %v", err)
	}
}

type openList struct{ list [][]byte }

func (o *openList) OpenRecords() [][]byte { return o.list }
func (o *openList) RestoreOpen(b []byte) error {
	o.list = append(o.list, append([]byte(nil), b...))
	return nil
}

// The open upstream requests round-trip; a reader without an Open part
// passes over them; a version 1 file (no open part) reads with none.
func TestOpenUpstreamRoundTripAndVersion1(t *testing.T) {
	dir := t.TempDir()
	p := parts("state", 1, 2, "k")
	p.Open = &openList{list: [][]byte{[]byte("forwarded 1"), []byte("forwarded 2")}}
	p.StandIn = &openList{list: [][]byte{[]byte("stand-in 1")}}
	m, err := Write(dir, Point{Seq: 9}, [16]byte{}, p)
	if err != nil {
		t.Fatal(err)
	}
	got := parts("", 0, 0)
	got.Open, got.StandIn = &openList{}, &openList{}
	if err := Load(m, got); err != nil {
		t.Fatal(err)
	}
	if l := got.Open.(*openList).list; len(l) != 2 || string(l[0]) != "forwarded 1" || string(l[1]) != "forwarded 2" {
		t.Fatalf("open %q", l)
	}
	if l := got.StandIn.(*openList).list; len(l) != 1 || string(l[0]) != "stand-in 1" {
		t.Fatalf("stand-in %q", l)
	}
	if s := string(got.State.(*blob).data); s != "state" {
		t.Fatalf("state %q", s)
	}
	if err := Load(m, parts("", 0, 0)); err != nil {
		t.Fatalf("without an Open part: %v", err)
	}

	// the same snapshot as version 1 wrote it: no open count (nor stand-in
	// count) in the counters and sessions part, checksum over that
	m1, err := Write(t.TempDir(), Point{Seq: 9}, [16]byte{}, parts("state", 1, 2, "k"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(m1.Path)
	body := raw[:len(raw)-sha256.Size]
	at := len(magic) + headerLen
	n, k := binary.Uvarint(body[at:])
	if body[at+k+int(n)-1] != 0 || body[at+k+int(n)-2] != 0 { // the open count and the stand-in count, 0 each
		t.Fatal("no open and stand-in counts where expected")
	}
	v1 := append([]byte(nil), body[:len(magic)]...)
	v1 = append(v1, 1)
	v1 = append(v1, body[len(magic)+1:at]...)
	v1 = binary.AppendUvarint(v1, n-2)
	v1 = append(v1, body[at+k:at+k+int(n)-2]...)
	v1 = append(v1, body[at+k+int(n):]...)
	sum := sha256.Sum256(v1)
	if err := os.WriteFile(m1.Path, append(v1, sum[:]...), 0o600); err != nil {
		t.Fatal(err)
	}
	metas, err := List(filepath.Dir(m1.Path))
	if err != nil || len(metas) != 1 {
		t.Fatalf("list v1: %v %d", err, len(metas))
	}
	got = parts("", 0, 0)
	got.Open = &openList{}
	if err := Load(metas[0], got); err != nil {
		t.Fatalf("version 1: %v", err)
	}
	if l := got.Open.(*openList).list; len(l) != 0 || string(got.State.(*blob).data) != "state" {
		t.Fatalf("version 1: open %q state %q", l, got.State.(*blob).data)
	}
}
