package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/internal/testlog"
)

// misalignedTrack is an iso87ascii 0200 with track 2 and bit 35 off: the
// track's bytes read as fields 37, 41 and 42, the real ones trail.
func misalignedTrack(t *testing.T, stan string) []byte {
	t.Helper()
	d, _ := codec.Lookup(codec.ISO87ASCII)
	fields := map[string]string{"3": "000000", "4": "1000", "7": "1121204500", "11": stan, "12": "204500",
		"13": "1121", "22": "021", "37": "612345" + stan, "41": "TERM0001", "42": "MERCHANT0000001", "49": "840"}
	without, err := d.Encode(codec.Message{MTI: "0200", Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	fields["35"] = "4761739001010010=28121011234567890"
	with, err := d.Encode(codec.Message{MTI: "0200", Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for with[i] == without[i] {
		i++
	}
	with[i] = without[i] // the bitmap without bit 35 (one hex digit differs)
	return with
}

// The misaligned track is answered 30 with the fields a peer matches on
// that came before it (11, 7), echoes none of 37, 41 and 42, and is
// journaled with them masked; a log line names the field, not the value.
func TestMisalignedTrackAnswered30AndMasked(t *testing.T) {
	j := newScripted()
	var logs testlog.Buffer
	ts := startServer(t, nil, func(c *Config) { c.testJournal = j; c.testLog = &logs })
	r, err := ts.dial(t).RoundTrip(misalignedTrack(t, "000021"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if field(r, 39) != "30" || field(r, 11) != "000021" || field(r, 7) != "1121204500" {
		t.Fatalf("reply 39 %q 11 %q 7 %q", field(r, 39), field(r, 11), field(r, 7))
	}
	for _, id := range []int{35, 37, 41, 42} {
		if r.View.Has(id) {
			t.Errorf("the reply echoes field %d: %q", id, field(r, id))
		}
	}
	recs := j.recorded()
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	rec := recs[0]
	if strings.Trim(rec.RRN+rec.Terminal+rec.Merchant, "*") != "" || len(rec.Terminal) != 8 || len(rec.Merchant) != 15 {
		t.Errorf("record keeps rrn %q terminal %q merchant %q", rec.RRN, rec.Terminal, rec.Merchant)
	}
	if got := testutil.ToFloat64(ts.links[0].metrics.clearText); got != 1 {
		t.Errorf("clear_text_refused %v", got)
	}
	waitUntil(t, "the log line", func() bool { return strings.Contains(logs.String(), "content check") })
	if line := logs.String(); strings.Contains(line, "010010") || !strings.Contains(line, "field 41") {
		t.Errorf("log: %s", line)
	}
}

// The content rules per field: what is refused (30) and what is kept but
// masked in the record (a numeric merchant ID that passes Luhn).
func TestClearTextRules(t *testing.T) {
	j := newScripted()
	ts := startServer(t, nil, func(c *Config) { c.testJournal = j })
	d, _ := codec.Lookup(codec.ISO87ASCII)
	c := ts.dial(t)
	for i, tc := range []struct {
		field, value string
		code         string // the reply's 39: 30 refused, else not 30
		merchant     string // the record's merchant
	}{
		{"", "", "", "MERCHANT0000001"},
		{"42", "400000000000006", "", "***************"}, // passes Luhn: masked, not refused
		{"42", "812101123456789", "", "812101123456789"}, // does not
		{"42", "MERCHANT=A00001", "", "MERCHANT=A00001"}, // "=" between letters is not a track
		{"42", "11111111=251210", "30", "***************"},
		{"41", "TERM\x01001", "30", "***************"},
		{"37", "61234500002/", "30", "***************"},
		{"43", "ACME 4761739001010010 SPRINGFIELD US", "30", "***************"},
	} {
		stan := "0001" + string(rune('0'+i/10)) + string(rune('0'+i%10))
		fields := map[string]string{"2": "4761739001010010", "3": "000000", "4": "1000", "7": "1121204500", "11": stan,
			"12": "204500", "13": "1121", "22": "051", "37": "6123450000" + stan[4:], "41": "TERM0001",
			"42": "MERCHANT0000001", "49": "840"}
		if tc.field != "" {
			fields[tc.field] = tc.value
		}
		msg, err := d.Encode(codec.Message{MTI: "0200", Fields: fields})
		if err != nil {
			t.Fatalf("%s=%q: %v", tc.field, tc.value, err)
		}
		r, err := c.RoundTrip(msg, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got := field(r, 39); tc.code == "30" && got != "30" || tc.code == "" && got == "30" {
			t.Errorf("%s=%q: answered %s", tc.field, tc.value, got)
		}
		recs := j.recorded()
		if got := recs[len(recs)-1].Merchant; got != tc.merchant {
			t.Errorf("%s=%q: record merchant %q, want %q", tc.field, tc.value, got, tc.merchant)
		}
	}
}
