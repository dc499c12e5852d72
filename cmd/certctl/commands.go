package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes shared by every command.
const (
	exitOK      = 0
	exitError   = 1
	exitChanges = 2 // plan -detailed-exitcode: changes present
	exitFormat  = 3 // fmt -check: files need formatting
)

// env is what every command gets: its streams and the global options.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	dir    string // configuration directory (-chdir)
	state  string // state path override (-state or CERTCTL_STATE)
}

type command struct {
	synopsis string
	run      func(e *env, args []string) int
}

var commands = map[string]command{
	"validate": {"Check the configuration for errors", cmdValidate},
	"fmt":      {"Rewrite configuration files in the canonical format", cmdFmt},
	"plan":     {"Show what apply would change, and why", cmdPlan},
	"diff":     {"Show what a change between two git revisions does", cmdDiff},
	"apply":    {"Issue, renew, replace and deploy certificates", cmdApply},
	"show":     {"List certificates with their state", cmdShow},
	"version":  {"Print the certctl version", cmdVersion},
	// ACME: renew.go, providers.go.
	"renew":     {"Renew one certificate now, whatever its schedule", cmdRenew},
	"revoke":    {"Revoke one certificate now; the next apply replaces it", cmdRevoke},
	"providers": {"List the DNS-01 providers and their settings", cmdProviders},
	// The notification queue.
	"status":        {"Count certificates and notifications by status", cmdStatus},
	"notifications": {"List notification rows", cmdNotifications},
	"requeue":       {"Reset dead notifications to pending", cmdRequeue},
	// The long-running reconciler: watch.go, server.go.
	"watch": {"Reconcile continuously; serve health, metrics, CRLs and OCSP", cmdWatch},
	// Onboarding: import.go, init.go.
	"import": {"Bring existing certificates (files, TLS endpoints) under certctl", cmdImport},
	"init":   {"Write the first configuration of a repository, asking or from flags", cmdInit},
	// A host's side of the agents' API: agent.go.
	"agent": {"Pull this host's deployments from certctl watch; keep its keys here", cmdAgent},
}

// Main runs certctl with args (without the program name) and returns the
// exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	global := flag.NewFlagSet("certctl", flag.ContinueOnError)
	global.SetOutput(stderr)
	chdir := global.String("chdir", ".", "read the configuration from `DIR`")
	statePath := global.String("state", "", "state file `PATH` (default: the config's certctl.state, or .certctl/state.db; env CERTCTL_STATE)")
	global.Usage = func() { usage(stderr) }
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitError
	}
	rest := global.Args()
	if len(rest) == 0 {
		usage(stderr)
		return exitError
	}
	name, cmdArgs := rest[0], rest[1:]
	if name == "-version" || name == "--version" {
		name = "version"
	}
	if name == "help" || name == "-h" || name == "--help" {
		usage(stdout)
		return exitOK
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "certctl: unknown command %q\n\n", name)
		usage(stderr)
		return exitError
	}
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, dir: *chdir, state: *statePath}
	if e.state == "" {
		e.state = os.Getenv("CERTCTL_STATE")
	}
	return c.run(e, cmdArgs)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: certctl [-chdir DIR] [-state PATH] COMMAND [options]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-13s %s\n", n, commands[n].synopsis)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'certctl COMMAND -h' for a command's options.")
}

// newFlags returns a flag set for a subcommand that prints its usage to
// stderr and does not exit.
func newFlags(e *env, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: certctl %s%s\n\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and reports the exit status to return when parsing
// stopped the command (help or a bad flag).
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitError, false
	}
	return 0, true
}

// errorf prints a one-line error to stderr and returns exitError.
func (e *env) errorf(format string, args ...any) int {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(e.stderr, "Error: %s\n", strings.TrimSpace(msg))
	return exitError
}

func cmdVersion(e *env, args []string) int {
	fmt.Fprintf(e.stdout, "certctl %s\n", version)
	return exitOK
}
