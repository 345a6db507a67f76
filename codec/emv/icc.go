package emv

// object is one data object in an ICC view: offsets into the data.
type object struct {
	tag    Tag
	off    uint16 // value offset
	n      uint16 // value length
	parent int8   // index of the enclosing template, -1 at the top level
}

// ICC is a parsed field 55: the data objects, in order, as offsets into
// the bytes given to Parse (which must not change while the view is used).
// It is fixed-size (no allocation) and its zero value is an empty view.
// Not safe for concurrent Parse; concurrent reads are fine.
type ICC struct {
	data []byte
	n    int
	objs [ObjectsMax]object
}

// Parse reads b as a sequence of BER-TLV data objects, descending into
// templates, and replaces the view's contents. On error the view is empty
// and the error is an *Error naming the offset and, when readable, the tag.
func (c *ICC) Parse(b []byte) error {
	c.data, c.n = nil, 0
	if len(b) > DataBytesMax {
		return &Error{Offset: DataBytesMax, Err: ErrTooLong}
	}
	if err := c.parse(b, 0, len(b), -1, 0); err != nil {
		c.n = 0
		return err
	}
	c.data = b
	return nil
}

// parse reads the objects in b[start:end] as children of parent.
func (c *ICC) parse(b []byte, start, end int, parent int8, depth int) error {
	first := c.n
	for off := start; off < end; {
		t, tn, err := readTag(b[off:end])
		if err != nil {
			return &Error{Offset: off, Err: err}
		}
		v, ln, err := readLength(b[off+tn : end])
		if err != nil {
			return &Error{Offset: off, Tag: t, Err: err}
		}
		vo := off + tn + ln
		if v > end-vo {
			return &Error{Offset: off, Tag: t, Err: ErrTruncated}
		}
		if lo, hi, ok := valueBytes(t); ok && (v < lo || v > hi) {
			return &Error{Offset: off, Tag: t, Err: ErrValueLength}
		}
		for i := first; i < c.n; i++ {
			if c.objs[i].tag == t && c.objs[i].parent == parent {
				return &Error{Offset: off, Tag: t, Err: ErrDuplicate}
			}
		}
		if c.n == ObjectsMax {
			return &Error{Offset: off, Tag: t, Err: ErrTooMany}
		}
		idx := c.n
		c.objs[idx] = object{tag: t, off: uint16(vo), n: uint16(v), parent: parent}
		c.n++
		if t.Constructed() {
			if depth+1 >= depthMax {
				return &Error{Offset: off, Tag: t, Err: ErrTooDeep}
			}
			if err := c.parse(b, vo, vo+v, int8(idx), depth+1); err != nil {
				return err
			}
		}
		off = vo + v
	}
	return nil
}

// Get returns the value of a top-level data object (what a terminal puts
// in field 55 directly), or false if it is absent.
func (c *ICC) Get(t Tag) ([]byte, bool) {
	for i := 0; i < c.n; i++ {
		if o := c.objs[i]; o.tag == t && o.parent < 0 {
			return c.data[o.off : int(o.off)+int(o.n)], true
		}
	}
	return nil, false
}

// Need is Get for a data object the caller cannot do without: its absence
// is an *Error naming the tag and wrapping ErrMissing (a format error).
func (c *ICC) Need(t Tag) ([]byte, error) {
	if v, ok := c.Get(t); ok {
		return v, nil
	}
	return nil, &Error{Offset: len(c.data), Tag: t, Err: ErrMissing}
}

// Len returns the number of data objects, templates and their contents included.
func (c *ICC) Len() int { return c.n }

// Object returns the i-th data object in the order of the data (a
// template before its contents) and the index of its template, -1 at the
// top level. i must be below Len.
func (c *ICC) Object(i int) (t Tag, value []byte, parent int) {
	o := c.objs[i]
	return o.tag, c.data[o.off : int(o.off)+int(o.n)], int(o.parent)
}
