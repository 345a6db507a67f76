package upstream

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/cardswitch/cardswitch/codec"
)

// Mapping is how a request crosses from its originator's link to a
// destination and how the response comes back: data per destination, not
// code per network. Out turns the originator's request into the outbound
// request; Back turns the upstream response into the reply to the
// originator. The fields the switch numbers itself on the outbound leg
// (Assign: the STAN, RRN and transmission time, the PIN block translated
// to the destination's key) are given per message; the originator's own
// fields named in Restore go back to it byte for byte, whatever the
// upstream host echoed.
type Mapping struct {
	Out     Side
	Back    Side
	Assign  []int // outbound fields whose value the caller gives per message (Value)
	Restore []int // reply fields copied from the originator's request, not from the response
}

// Side is one direction's mapping, from a source message to a target
// dialect. Explicit entries win over CopyAll; two explicit entries for one
// target field are refused.
type Side struct {
	// CopyAll carries every field of the source dialect that the target
	// dialect defines, except Drop, MACs (64, 128: each link MACs its own
	// leg) and the PIN block (52): outbound it must be assigned (the
	// translated block) or dropped; back, a response's is never passed on.
	CopyAll bool
	Copy    []int          // fields carried as they are (text form across dialects)
	Drop    []int          // fields never carried
	Set     map[int]string // fields set to a constant, in text form (hex for binary fields)
	Rename  []Rename       // source field From carried as target field To
}

// Rename carries source field From as target field To.
type Rename struct{ From, To int }

// Value is a field the caller assigns for one message: its text form
// (digits, characters, hex for binary fields).
type Value struct {
	ID   int
	Text []byte
}

// Plan is a compiled Mapping between two dialects: immutable, shared by
// every goroutine.
type Plan struct {
	orig, dest *codec.Dialect
	out, back  []step // in ascending target field order, as a Builder wants them
	assigned   [codec.MaxField + 1]bool
}

type stepKind uint8

const (
	stepCopy    stepKind = iota + 1 // from the source message
	stepSet                         // a constant
	stepAssign                      // the caller's Value
	stepRestore                     // from the originator's request (Back only)
)

type step struct {
	id   int
	kind stepKind
	from int
	val  []byte
}

// MappingError is a mapping that cannot be compiled: it names the side
// and the field.
type MappingError struct {
	Side  string // "out" or "back"
	Field int
	Why   string
}

func (e *MappingError) Error() string {
	return "upstream: mapping " + e.Side + ", field " + strconv.Itoa(e.Field) + ": " + e.Why
}

// Compile checks m against the originator's dialect orig and the
// destination's dialect dest and compiles it.
func Compile(m Mapping, orig, dest *codec.Dialect) (*Plan, error) {
	p := &Plan{orig: orig, dest: dest}
	out, err := compileSide("out", m.Out, orig, dest, m.Assign, stepAssign)
	if err != nil {
		return nil, err
	}
	back, err := compileSide("back", m.Back, dest, orig, m.Restore, stepRestore)
	if err != nil {
		return nil, err
	}
	for _, id := range m.Assign {
		p.assigned[id] = true
	}
	p.out, p.back = steps(out), steps(back)
	return p, nil
}

// never is what no mapping copies: the PIN block (translated by the HSM
// for each key, never carried under the wrong one) and the MACs.
func never(id int) bool {
	return id == codec.FieldPINBlock || id == codec.FieldMAC || id == codec.FieldMAC2
}

// compileSide resolves one side into one step per target field. special
// are the fields of kind sk (Assign or Restore), which take precedence
// over everything but must not meet another explicit entry.
func compileSide(name string, s Side, src, dst *codec.Dialect, special []int, sk stepKind) ([codec.MaxField + 1]step, error) {
	var t [codec.MaxField + 1]step
	explicit := [codec.MaxField + 1]bool{}
	bad := func(id int, why string) ([codec.MaxField + 1]step, error) {
		return t, &MappingError{Side: name, Field: id, Why: why}
	}
	valid := func(id int) bool { return id >= 2 && id <= codec.MaxField && id != 65 }
	dropped := [codec.MaxField + 1]bool{}
	for _, id := range s.Drop {
		if !valid(id) {
			return bad(id, "not a field number")
		}
		dropped[id] = true
	}
	if s.CopyAll {
		for _, id := range src.FieldIDs() {
			if dropped[id] || dst.Field(id) == nil || id == codec.FieldMAC || id == codec.FieldMAC2 {
				continue
			}
			if id == codec.FieldPINBlock {
				// outbound, the PIN block is the HSM's translation or nothing:
				// the mapping must say which; a response has none to pass on
				if sk == stepAssign && !contains(special, id) {
					return bad(id, "a PIN block is translated, never copied: assign it or drop it")
				}
				continue
			}
			t[id] = step{id: id, kind: stepCopy, from: id}
		}
	}
	claim := func(id int, st step, what string) error {
		switch {
		case !valid(id):
			return &MappingError{name, id, "not a field number"}
		case dst.Field(id) == nil:
			return &MappingError{name, id, what + ": not defined in dialect " + dst.Name}
		case explicit[id]:
			return &MappingError{name, id, what + ": the field is mapped twice"}
		case dropped[id]:
			return &MappingError{name, id, what + ": the field is also dropped"}
		}
		explicit[id] = true
		t[id] = st
		return nil
	}
	from := func(id int, what string) error {
		switch {
		case !valid(id) || src.Field(id) == nil:
			return &MappingError{name, id, what + ": not defined in dialect " + src.Name}
		case never(id):
			return &MappingError{name, id, what + ": PIN blocks and MACs are never copied across links"}
		}
		return nil
	}
	for _, id := range s.Copy {
		if err := from(id, "copy"); err != nil {
			return t, err
		}
		if err := claim(id, step{id: id, kind: stepCopy, from: id}, "copy"); err != nil {
			return t, err
		}
	}
	for _, r := range s.Rename {
		if err := from(r.From, "rename"); err != nil {
			return t, err
		}
		if never(r.To) {
			return bad(r.To, "rename: PIN blocks and MACs are never copied across links")
		}
		if err := claim(r.To, step{id: r.To, kind: stepCopy, from: r.From}, "rename"); err != nil {
			return t, err
		}
		if !explicit[r.From] && t[r.From].kind == stepCopy && t[r.From].from == r.From {
			t[r.From] = step{} // renamed, so not also carried under its own number by CopyAll
		}
	}
	for id, val := range s.Set {
		if err := checkValue(dst, id, val); err != nil && valid(id) && dst.Field(id) != nil {
			return bad(id, "set "+strconv.Quote(val)+": "+err.Error())
		}
		if err := claim(id, step{id: id, kind: stepSet, val: []byte(val)}, "set"); err != nil {
			return t, err
		}
	}
	for _, id := range special {
		what := "assign"
		if sk == stepRestore {
			what = "restore"
		}
		if sk == stepRestore && never(id) {
			return bad(id, "restore: the reply's PIN block or MAC is the reply's own")
		}
		if err := claim(id, step{id: id, kind: sk, from: id}, what); err != nil {
			return t, err
		}
	}
	return t, nil
}

func contains(ids []int, id int) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// checkValue builds a message holding val in field id of d: a constant
// that cannot be carried is refused when the mapping is loaded, not on
// every message.
func checkValue(d *codec.Dialect, id int, val string) error {
	var b codec.Builder
	b.Begin(d, nil, codec.MTI{'0', '2', '0', '0'}, nil)
	b.String(id, val)
	_, err := b.Finish()
	return err
}

func steps(t [codec.MaxField + 1]step) []step {
	var out []step
	for _, s := range t {
		if s.kind != 0 {
			out = append(out, s)
		}
	}
	return out
}

// Assigns reports whether the plan's outbound leg takes field id from the
// caller (a Value).
func (p *Plan) Assigns(id int) bool { return id >= 0 && id <= codec.MaxField && p.assigned[id] }

// ErrNotAssigned is a Value for a field the mapping does not assign.
var ErrNotAssigned = errors.New("upstream: a value for a field the mapping does not assign")

// Forward appends the outbound request's fields to b, which the caller has
// begun in the destination's dialect (the MTI, the header) and will finish
// (the MAC, by the destination's key, last). orig is the originator's
// request; vals the assigned fields' values (an assigned field without
// one is left out). It allocates nothing.
func (p *Plan) Forward(b *codec.Builder, orig *codec.View, vals []Value) error {
	for _, v := range vals {
		if v.ID < 0 || v.ID > codec.MaxField || !p.assigned[v.ID] {
			return fmt.Errorf("%w: field %d", ErrNotAssigned, v.ID)
		}
	}
	for i := range p.out {
		s := &p.out[i]
		switch s.kind {
		case stepCopy:
			copyField(b, orig, s.from, s.id)
		case stepSet:
			b.Text(s.id, s.val)
		case stepAssign:
			for _, v := range vals {
				if v.ID == s.id {
					b.Text(s.id, v.Text)
					break
				}
			}
		}
	}
	return b.Err()
}

// Back appends the reply's fields to b, which the caller has begun in the
// originator's dialect (orig.MTI().Response(), orig.Header()) and will
// finish: the response's fields as the mapping says, and the originator's
// restored ones exactly as it sent them (the builder re-pads a BCD pad
// nibble to the link's own, as every reply does).
func (p *Plan) Back(b *codec.Builder, resp, orig *codec.View) error {
	for i := range p.back {
		s := &p.back[i]
		switch s.kind {
		case stepCopy:
			copyField(b, resp, s.from, s.id)
		case stepSet:
			b.Text(s.id, s.val)
		case stepRestore:
			b.Copy(orig, s.id)
		}
	}
	return b.Err()
}

// textMaxBytes is the longest text form of a field: an LLL binary field of
// 999 bytes in hex.
const textMaxBytes = 2 * 999

// copyField appends v's field from as b's field to (absent: nothing).
func copyField(b *codec.Builder, v *codec.View, from, to int) {
	if from == to {
		b.Copy(v, from)
		return
	}
	if !v.Has(from) {
		return
	}
	var buf [textMaxBytes]byte // on the stack: the builder copies it
	b.Text(to, v.AppendText(buf[:0], from))
}
