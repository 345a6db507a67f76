package main

import (
	"fmt"
	"net"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var durationType = reflect.TypeFor[time.Duration]()

// checkKeys walks the YAML document against the configuration's Go type
// before it is decoded, so that an unknown key is named by its full path
// (engine.wrokers, links[1].dialekt) with the keys its section takes, a
// duration without a unit says so, and a number that is not whole is
// named, instead of yaml.v3's messages, which name the Go type. Everything
// else is left to the decoder.
func checkKeys(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			if err := checkKeys(c, t, path); err != nil {
				return err
			}
		}
		return nil
	}
	if t.Kind() == reflect.Pointer { // links[].tls: optional sections
		t = t.Elem()
	}
	switch {
	case t == durationType:
		return checkDuration(n, path)
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return checkInt(n, path)
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fieldByTag(t, k.Value)
			if !ok {
				return fmt.Errorf("%s (line %d): unknown key; %s takes %s", join(path, k.Value), k.Line, section(path), strings.Join(yamlKeys(t), ", "))
			}
			if err := checkKeys(v, f.Type, join(path, k.Value)); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			if err := checkKeys(c, t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkDuration explains the two usual mistakes with a duration: a bare
// number (yaml reads "5" as an integer, and Go durations need a unit) and
// a string time.ParseDuration refuses.
func checkDuration(n *yaml.Node, path string) error {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return nil
	}
	switch n.Tag {
	case "!!int", "!!float":
		return fmt.Errorf("%s (line %d): %s needs a unit, e.g. %ss or %sms", path, n.Line, n.Value, n.Value, n.Value)
	}
	if _, err := time.ParseDuration(n.Value); err != nil {
		return fmt.Errorf("%s (line %d): %q is not a duration: a number with a unit, e.g. 500ms, 5s, 5m, 168h", path, n.Line, n.Value)
	}
	return nil
}

// checkInt says that a whole number is wanted where yaml.v3 would say
// "cannot unmarshal !!str into int", naming the Go type.
func checkInt(n *yaml.Node, path string) error {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!int" || n.Tag == "!!null" {
		return nil
	}
	return fmt.Errorf("%s (line %d): %q is not a whole number", path, n.Line, n.Value)
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func section(path string) string {
	if path == "" {
		return "the file"
	}
	return path
}

// checkListen checks a host:port as the listener would take it: a port
// from 1 to 65535 and a host that resolves (a literal address needs no
// lookup). key names the configuration key in the error.
func checkListen(key, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s: %q is not host:port", key, addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%s: %q: the port must be a number from 1 to 65535", key, addr)
	}
	if host != "" && net.ParseIP(host) == nil {
		if _, err := net.LookupHost(host); err != nil {
			return fmt.Errorf("%s: %q: the host does not resolve: %v", key, addr, err)
		}
	}
	return nil
}
