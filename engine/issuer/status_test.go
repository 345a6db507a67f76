package issuer

import "testing"

// WithCardStatus changes the copy only, its index with it, and refuses a
// status the file could not hold.
func TestWithCardStatus(t *testing.T) {
	d, err := ParseCounted(DemoYAML())
	if err != nil {
		t.Fatal(err)
	}
	const pan = "4761739001010010"
	nd, err := d.WithCardStatus(func(c *Card) (string, bool) { return "stolen", c.PAN == pan })
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := nd.Card([]byte(pan)); !ok || c.Status != "stolen" {
		t.Fatalf("copy: %+v", c)
	}
	if c, _ := d.Card([]byte(pan)); c.Status != "active" || d.Cards[0].Status != "active" {
		t.Fatalf("the original changed: %+v", c)
	}
	if c, _ := nd.Card([]byte("4000001234562")); c.Status != "active" || len(nd.Cards) != len(d.Cards) {
		t.Fatalf("another card: %+v", c)
	}
	if _, err := d.WithCardStatus(func(*Card) (string, bool) { return "frozen", true }); err == nil {
		t.Fatal("status frozen taken")
	}
}
