package upstream

import (
	"testing"
	"unsafe"
)

// The memory figure in Config.Cap's comment: about 300 bytes a place.
func TestPlaceBytes(t *testing.T) {
	const places = 10_000
	cells := 2
	for cells < 2*places {
		cells <<= 1
	}
	perPlace := int(unsafe.Sizeof(slot[*int]{})) + int(unsafe.Sizeof(wheelNode{})) + 4 /* free */ +
		int(unsafe.Sizeof(tombstone{})) + 2*cells*int(unsafe.Sizeof(cell{}))/places /* the live and late indexes */
	if perPlace > 320 {
		t.Fatalf("a place costs %d bytes: update Config.Cap's comment", perPlace)
	}
	t.Logf("%d bytes a place", perPlace)
}
