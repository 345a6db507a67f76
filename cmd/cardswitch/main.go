// Command cardswitch is the ISO 8583 card switch and its tools: it serves
// links, decodes and encodes messages for people, and drives load.
//
// Every subcommand takes --help. Exit status: 0 success, 1 failure, 2 usage.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand: its flags are defined by setup on a fresh
// FlagSet, and run does the work with the remaining arguments.
type command struct {
	name    string
	args    string // argument synopsis after the flags
	summary string
	setup   func(fs *flag.FlagSet) func(args []string, env *env) error
}

// env is what a command may touch: standard streams, so tests can run
// commands in process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// errUsage marks a usage mistake: the command prints its usage and exits 2.
var errUsage = errors.New("usage")

func usagef(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, a...)...)
}

func main() {
	os.Exit(run(os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}))
}

func run(args []string, e *env) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				fs := newFlagSet(c, e)
				c.setup(fs)
				fs.Usage()
				return 0
			}
		}
		printUsage(e.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" {
		args = []string{"version"}
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "cardswitch: unknown command %q\n\n", args[0])
		printUsage(e.stderr)
		return 2
	}
	fs := newFlagSet(c, e)
	do := c.setup(fs)
	positional, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := do(positional, e); err != nil {
		if errors.Is(err, errUsage) {
			fmt.Fprintf(e.stderr, "cardswitch %s: %v\n", c.name, strings.TrimPrefix(err.Error(), "usage: "))
			fs.Usage()
			return 2
		}
		fmt.Fprintf(e.stderr, "cardswitch %s: %v\n", c.name, err)
		return 1
	}
	return 0
}

// parseInterspersed parses flags wherever they stand among the arguments
// ("journal dump --json" as well as "journal --json dump"); "--" ends them.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

func newFlagSet(c *command, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: cardswitch %s [flags] %s\n\n%s\n", c.name, c.args, c.summary)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintf(w, "\nflags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "cardswitch: an ISO 8583 card switch and its tools\n\nusage: cardswitch <command> [flags] [args]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		first, _, _ := strings.Cut(commands[n].summary, "\n")
		fmt.Fprintf(w, "  %-10s %s\n", n, first)
	}
	fmt.Fprintf(w, "\nRun 'cardswitch <command> --help' for a command's flags.\n")
}
