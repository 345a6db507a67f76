package main

import (
	"strings"
	"testing"
	"time"
)

// twoDestinations is the README's two-destination configuration, put in
// the default file.
const twoDestinations = `destinations:
  - name: visa-host
    dialect: iso87ascii
    framing: binary2
    endpoints:
      - {address: 127.0.0.1:9583, tier: 0}
      - {address: 127.0.0.1:9584, tier: 1}
    sign_on: true
  - name: cup-host
    dialect: cup-pos
    framing: binary2+tpdu
    endpoints: [{address: 127.0.0.1:9585}]
    strategy: round-robin
    connections: 2
    timeout: 15s
    mapping:
      back: {copy: [38, 39, 54]}
`

const forwardRules = `    - name: visa-issuers
      pan_prefixes: ["4"]
      action: upstream
      destination: visa-host
    - name: unionpay
      pan_prefixes: ["62"]
      action: upstream
      destination: cup-host
`

func withDestinations(t *testing.T, dests, rules string) string {
	t.Helper()
	return withDestinationsIn(t, string(defaultConfig), dests, rules)
}

// withDestinationsIn is withDestinations on another configuration made
// from the default one (testConfig's).
func withDestinationsIn(t *testing.T, base, dests, rules string) string {
	t.Helper()
	s := strings.Replace(base, "destinations: []\n", dests, 1)
	i := strings.Index(s, "\n  rules:")
	if i < 0 || !strings.Contains(s, dests) {
		t.Fatal("the default configuration changed: destinations: [] or rules: not found")
	}
	i += strings.IndexByte(s[i+1:], '\n') + 2 // after the rules: line
	s = s[:i] + rules + s[i:]
	return s
}

func TestConfigDestinations(t *testing.T) {
	c, err := parseConfig([]byte(withDestinations(t, twoDestinations, forwardRules)))
	if err != nil {
		t.Fatal(err)
	}
	d := c.engine.Destinations
	if len(d) != 2 || d[0].Name != "visa-host" || len(d[0].Endpoints) != 2 || d[0].Endpoints[1].Tier != 1 || !d[0].SignOn {
		t.Fatalf("destinations: %+v", d)
	}
	if d[0].Timeout != 10*time.Second || d[0].Key != "mti 11 41 7" || d[0].Strategy != "primary-secondary" || d[1].Timeout != 15*time.Second ||
		d[1].Connections != 2 || len(d[1].Mapping.Back.Copy) != 3 {
		t.Fatalf("defaults or values: %+v", d)
	}
	for _, bad := range []struct{ from, to, want string }{
		{"destination: cup-host", "destination: cup-hots", `routes.rules[1].destination: "cup-hots" is not a destination of this configuration`},
		{"strategy: round-robin", "strategy: random", "destinations[1].strategy:"},
		{"timeout: 15s", "tiemout: 15s", "destinations[1].tiemout (line "},
		{"timeout: 15s", "timeout: 15", "destinations[1].timeout (line "},
		{"sign_on: true", "sign_on: true\n    key: \"mti 99x\"", "destinations[0].key:"},
		{"{address: 127.0.0.1:9585}", "{address: 127.0.0.1:95850}", "destinations[1].endpoints[0].address:"},
		{"back: {copy: [38, 39, 54]}", "back: {copy: [52]}", "destinations[1].mapping (from link pos):"},
		{"- name: cup-host", "- name: visa-host", `destinations[1].name: "visa-host" is used twice`},
	} {
		s := strings.Replace(withDestinations(t, twoDestinations, forwardRules), bad.from, bad.to, 1)
		_, err := parseConfig([]byte(s))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s -> %s: %v, want %q", bad.from, bad.to, err, bad.want)
		}
	}
}

// The zone keys of a destination, its MAC and key change settings: read,
// defaulted, and each bad value named by its key (never echoing a key).
func TestConfigDestinationKeys(t *testing.T) {
	keys := strings.Replace(twoDestinations, "    sign_on: true\n", "    sign_on: true\n"+
		"    zmk: U71979DEB8587E2734F1E99D5DCAEF9AC\n    zpk: U1EF828AA8F6B80EB83E19FBC373F3A85\n    mac: x919\n", 1)
	c, err := parseConfig([]byte(withDestinations(t, keys, forwardRules)))
	if err != nil {
		t.Fatal(err)
	}
	d := c.engine.Destinations
	if d[0].ZMK != "U71979DEB8587E2734F1E99D5DCAEF9AC" || d[0].ZPK != "U1EF828AA8F6B80EB83E19FBC373F3A85" || d[0].MAC != "x919" ||
		d[0].PINFormat != "iso0" || d[0].KeyChangeCode != 161 || d[0].KeyChangeInterval != 0 || d[1].MAC != "" || d[1].ZMK != "" {
		t.Fatalf("keys or defaults: %+v", d[0])
	}
	for _, bad := range []struct{ from, to, want string }{
		{"zpk: U1EF8", "zpk: Z1EF8", "destinations[0].zpk: must be a double-length key under the LMK"},
		{"mac: x919", "mac: md5", `destinations[0].mac: "md5" must be`},
		{"mac: x919", "mac: x919\n    pin_format: iso2", `destinations[0].pin_format: "iso2"`},
		{"mac: x919", "mac: x919\n    key_change_code: 301", "destinations[0].key_change_code: 301"},
		{"mac: x919", "mac: x919\n    key_change_interval: 5s", "destinations[0].key_change_interval: 5s"},
		{"    zmk: U71979DEB8587E2734F1E99D5DCAEF9AC\n", "", "destinations[0].mac: needs zak, or zmk"},
	} {
		s := strings.Replace(withDestinations(t, keys, forwardRules), bad.from, bad.to, 1)
		_, err := parseConfig([]byte(s))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s -> %s: %v, want %q", bad.from, bad.to, err, bad.want)
		}
		if err != nil && strings.Contains(err.Error(), "1EF828AA") {
			t.Errorf("the error echoes a key: %v", err)
		}
	}
}
