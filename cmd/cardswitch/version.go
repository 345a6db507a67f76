package main

import (
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

func init() {
	register(&command{
		name: "version",
		summary: "Print the module version, the commit it was built from and the Go version.\n\n" +
			"Read from the build information Go stamps into the binary (go build in a git checkout\n" +
			"records the commit and whether the tree had changes); 'cardswitch --version' is the same.",
		setup: func(fs *flag.FlagSet) func([]string, *env) error {
			return func(args []string, e *env) error {
				if len(args) > 0 {
					return usagef("version takes no arguments")
				}
				bi, _ := debug.ReadBuildInfo()
				_, err := fmt.Fprint(e.stdout, versionText(bi))
				return err
			}
		},
	})
}

// versionText formats the build information: bi is nil when the binary
// carries none (a test binary carries no VCS settings).
func versionText(bi *debug.BuildInfo) string {
	version, goVersion := "unknown", runtime.Version()
	settings := map[string]string{}
	if bi != nil {
		version, goVersion = bi.Main.Version, bi.GoVersion
		if version == "" {
			version = "unknown"
		}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "cardswitch %s\n", version)
	switch rev := settings["vcs.revision"]; rev {
	case "":
		b.WriteString("commit   unknown (built without version control information)\n")
	default:
		if settings["vcs.modified"] == "true" {
			rev += " (modified: built with uncommitted changes)"
		}
		if t := settings["vcs.time"]; t != "" {
			rev += ", committed " + t
		}
		fmt.Fprintf(&b, "commit   %s\n", rev)
	}
	fmt.Fprintf(&b, "go       %s %s/%s\n", goVersion, runtime.GOOS, runtime.GOARCH)
	return b.String()
}
