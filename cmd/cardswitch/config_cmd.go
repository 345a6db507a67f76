package main

import (
	"flag"
	"fmt"
)

func init() {
	register(&command{
		name: "config",
		args: "default | check | bench-issuer",
		summary: "Print the embedded default configuration, or check a configuration file.\n\n" +
			"'config default' prints the default as commented YAML, a starting point for your own.\n" +
			"'config check --config FILE' loads FILE as 'serve' would and reports the first problem.\n" +
			"'config bench-issuer' prints the issuer data 'bench --compare' runs on (the demo's, limits lifted,\n" +
			"256 terminals more): issuer.data for a served switch that bench measures (make bench-tls).",
		setup: func(fs *flag.FlagSet) func([]string, *env) error {
			path := fs.String("config", "", "configuration file to check (check only)")
			return func(args []string, e *env) error {
				if len(args) != 1 {
					return usagef("say 'default', 'check' or 'bench-issuer'")
				}
				switch args[0] {
				case "default":
					_, err := e.stdout.Write(defaultConfig)
					return err
				case "bench-issuer":
					raw, err := benchIssuer()
					if err != nil {
						return err
					}
					_, err = e.stdout.Write(raw)
					return err
				case "check":
					if _, err := loadConfig(*path); err != nil {
						return err
					}
					fmt.Fprintln(e.stdout, "configuration ok")
					return nil
				}
				return usagef("unknown subcommand %q", args[0])
			}
		},
	})
}
