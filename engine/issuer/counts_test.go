package issuer

import (
	"strings"
	"testing"
)

func TestCounts(t *testing.T) {
	demo := string(DemoYAML())
	if _, err := ParseCounted(DemoYAML()); err != nil {
		t.Fatalf("the demo data: %v", err)
	}
	noCounts := strings.Replace(demo, "counts: {", "# counts: {", 1)
	if _, err := Parse([]byte(noCounts)); err != nil {
		t.Errorf("Parse takes data without counts: %v", err)
	}
	if _, err := ParseCounted([]byte(noCounts)); err == nil || !strings.Contains(err.Error(), "no counts section") {
		t.Errorf("ParseCounted without counts: %v", err)
	}
	// cut inside the terminals: the last list is short
	cut := demo[:strings.Index(demo, `  - id: "12345678"`)]
	for _, parse := range []func([]byte) (*Data, error){Parse, ParseCounted} {
		if _, err := parse([]byte(cut)); err == nil || !strings.Contains(err.Error(), "counts.terminals: the file declares 2, terminals lists 1") {
			t.Errorf("a file cut after one terminal: %v", err)
		}
	}
	if _, err := Parse([]byte(strings.Replace(demo, "counts: {", "counts: {bogus: 1, ", 1))); err == nil {
		t.Error("an unknown count is taken")
	}
}
