package main

import (
	"fmt"
	"net/http"

	"gopkg.in/yaml.v3"
)

// redacted stands for a secret in GET /config.
const redacted = "[redacted]"

// redactedConfig is f with its secrets replaced: the destinations' zone
// keys (cryptograms under the LMK, but keys all the same). The admin
// token is not in the file (token_file names where it is); the issuer
// data's keys are in issuer.data's file, which the configuration only
// names. TestConfigSecretsRedacted fails on a field added with a secret's
// name that this does not cover.
func redactedConfig(f fileConfig) fileConfig {
	f.Destinations = append([]destYAML(nil), f.Destinations...)
	for i := range f.Destinations {
		d := &f.Destinations[i]
		for _, k := range []*string{&d.ZMK, &d.ZPK, &d.ZAK} {
			if *k != "" {
				*k = redacted
			}
		}
	}
	return f
}

// configHandler serves GET /config: the configuration in force (the
// file as the last start or reload read it, defaults filled in), secrets
// redacted, as JSON with the file's key names.
func configHandler(current func() fileConfig) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		v, err := configJSON(redactedConfig(current()))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, v)
	}
}

// configJSON turns f into what encoding/json writes with the YAML key
// names (and durations as "5s"): through the YAML form.
func configJSON(f fileConfig) (any, error) {
	raw, err := yaml.Marshal(f)
	if err != nil {
		return nil, err
	}
	var v any
	if err := yaml.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return jsonKeys(v), nil
}

// jsonKeys makes every mapping's keys strings (a mapping keyed by field
// number decodes as map[any]any, which encoding/json refuses).
func jsonKeys(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = jsonKeys(e)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = jsonKeys(e)
		}
		return m
	case []any:
		for i, e := range t {
			t[i] = jsonKeys(e)
		}
	}
	return v
}
