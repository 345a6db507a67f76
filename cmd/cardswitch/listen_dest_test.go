package main

import (
	"strings"
	"testing"
)

// listeningDestination is a network that connects to the switch
// (issuer-initiated links): listen addresses instead of endpoints.
const listeningDestination = `destinations:
  - name: net-host
    dialect: iso87ascii
    framing: binary2
    listen: ["127.0.0.1:9600"]
    allow: ["127.0.0.1", "10.1.0.0/16"]
    sign_on: true
`

const listeningRules = `    - name: net-issuers
      pan_prefixes: ["4"]
      action: upstream
      destination: net-host
`

func TestConfigListeningDestination(t *testing.T) {
	c, err := parseConfig([]byte(withDestinations(t, listeningDestination, listeningRules)))
	if err != nil {
		t.Fatal(err)
	}
	d := c.engine.Destinations
	if len(d) != 1 || len(d[0].Endpoints) != 0 || len(d[0].Listen) != 1 || d[0].Listen[0] != "127.0.0.1:9600" ||
		d[0].MaxConnections != 4 || len(d[0].Allow) != 2 || !d[0].SignOn {
		t.Fatalf("destination: %+v", d)
	}
	for _, bad := range []struct{ from, to, want string }{
		{`    listen: ["127.0.0.1:9600"]` + "\n", "", "destinations[0].endpoints: at least one endpoint (or a listen address) is needed"},
		{`listen: ["127.0.0.1:9600"]`, `listen: ["127.0.0.1"]`, `destinations[0].listen[0]: "127.0.0.1" is not host:port`},
		{`listen: ["127.0.0.1:9600"]`, `listen: ["127.0.0.1:96000"]`, `destinations[0].listen[0]: "127.0.0.1:96000": the port must be`},
		{`allow: ["127.0.0.1", "10.1.0.0/16"]`, `allow: ["localhost"]`, `destinations[0].allow: "localhost" is neither an IP nor a CIDR prefix`},
		{"sign_on: true", "sign_on: true\n    max_connections: 65", "destinations[0].max_connections: 65: with the 0 dialled, the destination may hold at most 64"},
		{`    listen: ["127.0.0.1:9600"]` + "\n", "    endpoints: [{address: 127.0.0.1:9583}]\n", "destinations[0].allow: needs listen addresses"},
	} {
		s := strings.Replace(withDestinations(t, listeningDestination, listeningRules), bad.from, bad.to, 1)
		_, err := parseConfig([]byte(s))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q -> %q: %v, want %q", bad.from, bad.to, err, bad.want)
		}
	}
}
