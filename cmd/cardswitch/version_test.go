package main

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionText(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/cardswitch/cardswitch", Version: "v0.0.0-20261202001210-43ebfa9d1c2b+dirty"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "43ebfa9d1c2b3e4f5a6b7c8d9e0f1a2b3c4d5e6f"},
			{Key: "vcs.time", Value: "2026-12-02T00:12:10Z"}, {Key: "vcs.modified", Value: "true"}}}
	want := "cardswitch v0.0.0-20261202001210-43ebfa9d1c2b+dirty\n" +
		"commit   43ebfa9d1c2b3e4f5a6b7c8d9e0f1a2b3c4d5e6f (modified: built with uncommitted changes), committed 2026-12-02T00:12:10Z\n" +
		"go       go1.26.8 " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if got := versionText(bi); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	bi.Settings = bi.Settings[:2]
	if got := versionText(bi); !strings.Contains(got, "commit   43ebfa9d1c2b3e4f5a6b7c8d9e0f1a2b3c4d5e6f\n") {
		t.Errorf("clean tree: %s", got)
	}
	if got := versionText(nil); !strings.Contains(got, "cardswitch unknown\ncommit   unknown (built without version control information)\ngo       "+runtime.Version()) {
		t.Errorf("no build information: %s", got)
	}
}

func TestVersionCommand(t *testing.T) {
	bi, _ := debug.ReadBuildInfo()
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		code, out, errOut := cli(t, "", args...)
		if code != 0 || out != versionText(bi) || !strings.Contains(out, "go       "+runtime.Version()) {
			t.Errorf("%v: %d %q %q", args, code, out, errOut)
		}
	}
}
