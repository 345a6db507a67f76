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
	s := strings.Replace(string(defaultConfig), "destinations: []\n", dests, 1)
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
