package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/certctl/certctl/pki/acme"
	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/reconcile/importer"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/spec/hclgen"
)

// initQuestion is one thing certctl init asks, or reads from its flag.
type initQuestion struct {
	flag   string
	prompt string
	// def is the default shown and taken for an empty answer; "" with
	// optional false makes the question required.
	def      func(s *hclgen.Setup) string
	optional bool
	// defHelp describes a default that depends on earlier answers, for
	// the flag's usage.
	defHelp string
	// when, if set, says whether the question applies.
	when func(s *hclgen.Setup) bool
	// set checks the answer and stores it.
	set func(s *hclgen.Setup, v string) error
}

const letsEncrypt = "https://acme-v02.api.letsencrypt.org/directory"

func constant(v string) func(*hclgen.Setup) string { return func(*hclgen.Setup) string { return v } }

func isACME(s *hclgen.Setup) bool { return s.CA == hclgen.CAACME }

func isStepCA(s *hclgen.Setup) bool { return s.CA == hclgen.CAStepCA }

func checkName(what string, dst *string) func(*hclgen.Setup, string) error {
	return func(_ *hclgen.Setup, v string) error {
		if !spec.ValidName(v) {
			return fmt.Errorf("%q is not a valid %s name: a letter or '_', then letters, digits, '_' and '-'", v, what)
		}
		*dst = v
		return nil
	}
}

func list(v string) []string {
	var out []string
	for f := range strings.FieldsFuncSeq(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, f)
	}
	return out
}

// initQuestions are asked in this order; a flag set on the command line
// answers its question.
func initQuestions(s *hclgen.Setup) []initQuestion {
	providers := acme.Providers()
	names := make([]string, len(providers))
	for i, p := range providers {
		names[i] = p.Name
	}
	return []initQuestion{
		{flag: "ca", prompt: "Certificate authority: local (a CA certctl creates and keeps), acme (an ACME CA such as Let's Encrypt) or step-ca (a smallstep CA)",
			def: constant(hclgen.CALocal), set: func(s *hclgen.Setup, v string) error {
				switch v {
				case hclgen.CALocal, hclgen.CAACME, hclgen.CAStepCA:
					s.CA = v
					return nil
				}
				return fmt.Errorf("%q is not a CA kind: choose local, acme or step-ca", v)
			}},
		{flag: "issuer", prompt: "Issuer name", defHelp: `"internal", "letsencrypt" for acme, "stepca" for step-ca`, def: func(s *hclgen.Setup) string {
			switch s.CA {
			case hclgen.CAACME:
				return "letsencrypt"
			case hclgen.CAStepCA:
				return "stepca"
			}
			return "internal"
		}, set: func(s *hclgen.Setup, v string) error { return checkName("issuer", &s.Issuer)(s, v) }},
		{flag: "ca-common-name", prompt: "Common name of the local CA's root", optional: true, defHelp: `"certctl ISSUER CA"`,
			def:  func(s *hclgen.Setup) string { return "certctl " + s.Issuer + " CA" },
			when: func(s *hclgen.Setup) bool { return s.CA == hclgen.CALocal },
			set:  func(s *hclgen.Setup, v string) error { s.CACommonName = v; return nil }},
		{flag: "stepca-url", prompt: "step-ca URL, such as https://ca.example.com:9000", def: constant(""), when: isStepCA,
			set: func(s *hclgen.Setup, v string) error {
				if u, err := url.Parse(v); err != nil || u.Scheme != "https" || u.Host == "" || strings.Trim(u.Path, "/") != "" {
					return fmt.Errorf("%q is not an https URL without a path", v)
				}
				s.StepCAURL = v
				return nil
			}},
		{flag: "stepca-root", prompt: "File of the step-ca root certificate (PEM; step ca root writes it)", def: constant("root_ca.crt"), when: isStepCA,
			set: func(s *hclgen.Setup, v string) error { s.StepCARoot = v; return nil }},
		{flag: "stepca-provisioner", prompt: "Name of the step-ca JWK provisioner", def: constant(""), when: isStepCA,
			set: func(s *hclgen.Setup, v string) error { s.StepCAProvisioner = v; return nil }},
		{flag: "stepca-key", prompt: "File of the provisioner's encrypted private key (JWE)", def: constant("provisioner.jwe"), when: isStepCA,
			set: func(s *hclgen.Setup, v string) error { s.StepCAKey = v; return nil }},
		{flag: "stepca-password-env", prompt: "Environment variable holding the key's password (optional)", optional: true,
			def: constant("STEP_PROVISIONER_PASSWORD"), when: isStepCA,
			set: func(s *hclgen.Setup, v string) error {
				if v != "" && !spec.ValidName(v) {
					return fmt.Errorf("%q is not an environment variable name", v)
				}
				s.StepCAPasswordEnv = v
				return nil
			}},
		{flag: "acme-directory", prompt: "ACME directory URL", def: constant(letsEncrypt), when: isACME,
			set: func(s *hclgen.Setup, v string) error {
				if u, err := url.Parse(v); err != nil || u.Scheme != "https" || u.Host == "" {
					return fmt.Errorf("%q is not an https URL", v)
				}
				s.ACMEDirectory = v
				return nil
			}},
		{flag: "acme-email", prompt: "ACME account email (optional)", optional: true, def: constant(""), when: isACME,
			set: func(s *hclgen.Setup, v string) error { s.ACMEEmail = v; return nil }},
		{flag: "challenge", prompt: "Challenge: http-01 (certctl answers on a port) or dns-01 (a DNS provider)", def: constant(hclgen.ChallHTTP), when: isACME,
			set: func(s *hclgen.Setup, v string) error {
				if v != hclgen.ChallHTTP && v != hclgen.ChallDNS {
					return fmt.Errorf("%q is not a challenge: choose http-01 or dns-01", v)
				}
				s.Challenge = v
				return nil
			}},
		{flag: "http-port", prompt: "Port certctl answers http-01 challenges on", def: constant("80"),
			when: func(s *hclgen.Setup) bool { return isACME(s) && s.Challenge == hclgen.ChallHTTP },
			set: func(s *hclgen.Setup, v string) error {
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 || n > 65535 {
					return fmt.Errorf("%q is not a port (1 to 65535)", v)
				}
				s.HTTPPort = n
				return nil
			}},
		{flag: "dns-provider", prompt: "DNS provider (" + strings.Join(names, ", ") + "; see certctl providers)", def: constant(""),
			when: func(s *hclgen.Setup) bool { return isACME(s) && s.Challenge == hclgen.ChallDNS },
			set: func(s *hclgen.Setup, v string) error {
				if !slices.Contains(names, v) {
					return fmt.Errorf("%q is not a DNS provider certctl knows: %s", v, strings.Join(names, ", "))
				}
				s.DNSProvider = v
				return nil
			}},
		{flag: "team", prompt: "First team", def: constant("platform"), set: func(s *hclgen.Setup, v string) error { return checkName("team", &s.Team)(s, v) }},
		{flag: "owner", prompt: "First owner (a person or role)", def: constant(""), set: func(s *hclgen.Setup, v string) error { return checkName("owner", &s.Owner)(s, v) }},
		{flag: "owner-email", prompt: "Owner's email (optional)", optional: true, def: constant(""),
			set: func(s *hclgen.Setup, v string) error { s.OwnerEmail = v; return nil }},
		{flag: "policy", prompt: "First policy", def: constant("standard"), set: func(s *hclgen.Setup, v string) error { return checkName("policy", &s.Policy)(s, v) }},
		{flag: "allowed-domains", prompt: "Domains the policy allows, comma-separated, such as example.com,*.example.com (optional: any)", optional: true, def: constant(""),
			set: func(s *hclgen.Setup, v string) error { s.AllowedDomains = list(v); return nil }},
		{flag: "common-name", prompt: "First certificate's common name, such as www.example.com", def: constant(""),
			set: func(s *hclgen.Setup, v string) error { s.CommonName = v; return nil }},
		{flag: "dns-names", prompt: "More DNS names for it, comma-separated (optional)", optional: true, def: constant(""),
			set: func(s *hclgen.Setup, v string) error { s.DNSNames = list(v); return nil }},
		{flag: "certificate", prompt: "Its name in the configuration", defHelp: "the common name made a name, such as www_example_com", def: func(s *hclgen.Setup) string { return importer.Slug(s.CommonName) },
			set: func(s *hclgen.Setup, v string) error { return checkName("certificate", &s.Certificate)(s, v) }},
		{flag: "target-dir", prompt: "Directory to write its files to, relative to the configuration ('-' for none)", optional: true, def: constant("certs"),
			set: func(s *hclgen.Setup, v string) error { s.TargetDir = v; return nil }},
	}
}

// cmdInit writes the first configuration of a repository: main.hcl (and a
// .gitignore for the state) from answers given on a terminal, or from
// flags with -non-interactive. It never overwrites a file, and refuses a
// directory that already holds configuration.
func cmdInit(e *env, args []string) int {
	fs := newFlags(e, "init", " [-non-interactive | -interactive] [-FLAG VALUE]...\n\n"+
		"Asks for each value on a terminal; a flag given answers its question.")
	nonInteractive := fs.Bool("non-interactive", false, "ask nothing: take every value from its flag or its default; a required one missing is an error")
	interactive := fs.Bool("interactive", false, "ask even when standard input is not a terminal (answers are read line by line)")
	var s hclgen.Setup
	qs := initQuestions(&s)
	vals := make(map[string]*string, len(qs))
	for _, q := range qs {
		usage := q.prompt
		if q.defHelp != "" {
			usage += " (default " + q.defHelp + ")"
		} else if d := q.def(&hclgen.Setup{}); d != "" {
			usage += " (default " + strconv.Quote(d) + ")"
		}
		vals[q.flag] = fs.String(q.flag, "", usage)
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return e.errorf("init takes no arguments, got %q; flags come as -NAME VALUE", fs.Arg(0))
	}
	if *nonInteractive && *interactive {
		return e.errorf("-non-interactive and -interactive exclude each other")
	}
	ask := *interactive || (!*nonInteractive && isTerminal(e.stdin))
	if !ask && !*nonInteractive {
		return e.errorf("init asks questions on a terminal; without one, pass -non-interactive with flags (see certctl init -h), or -interactive to read the answers from standard input")
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	// Refuse before asking anything.
	if names, err := spec.ConfigFiles(e.dir); err == nil && len(names) > 0 {
		return e.errorf("%s already holds configuration (%s): certctl init starts a new one and never overwrites files", e.dir, strings.Join(names, ", "))
	}
	mainPath := filepath.Join(e.dir, "main.hcl")

	in := bufio.NewReader(e.stdin)
	echoed := isTerminal(e.stdin)
	for _, q := range qs {
		if q.when != nil && !q.when(&s) {
			continue
		}
		def := q.def(&s)
		if given[q.flag] || !ask {
			v := *vals[q.flag]
			if !given[q.flag] {
				v = def
			}
			if v == "" && !q.optional {
				if ask {
					return e.errorf("-%s must not be empty: %s", q.flag, q.prompt)
				}
				return e.errorf("-%s is required with -non-interactive: %s", q.flag, q.prompt)
			}
			if v == "-" && q.optional {
				v = "" // "-" clears an optional default
			}
			if err := q.set(&s, v); err != nil {
				return e.errorf("-%s: %v", q.flag, err)
			}
			continue
		}
		for {
			if def != "" {
				fmt.Fprintf(e.stdout, "%s [%s]: ", q.prompt, def)
			} else {
				fmt.Fprintf(e.stdout, "%s: ", q.prompt)
			}
			line, err := in.ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return e.errorf("reading the answer: %v", err)
			}
			v := strings.TrimSpace(line)
			if !echoed {
				// Answers piped in (-interactive) are not echoed by a
				// terminal: show them, so the transcript reads like one.
				fmt.Fprintln(e.stdout, v)
			}
			if line == "" && errors.Is(err, io.EOF) {
				return e.errorf("no answer for -%s (end of input); nothing was written", q.flag)
			}
			if v == "" {
				v = def
			}
			if v == "" && !q.optional {
				fmt.Fprintln(e.stdout, "  An answer is required.")
				continue
			}
			if v == "-" && q.optional {
				v = "" // "-" clears an optional default
			}
			if err := q.set(&s, v); err != nil {
				fmt.Fprintf(e.stdout, "  %v\n", err)
				continue
			}
			break
		}
	}

	src := s.File()
	// The file must load on its own, or nothing is written. The directory
	// holds no configuration file (refused above), but may hold what
	// file() reads (a step-ca root and key).
	cfg, parser, diags := spec.LoadWith(e.dir, spec.Options{FS: initDirFS(e.dir), Extra: map[string][]byte{"main.hcl": src}})
	if !diags.HasErrors() && cfg != nil {
		diags = append(diags, reconcile.CheckNotifiers(cfg)...)
	}
	if diags.HasErrors() || cfg == nil {
		_ = parser.WriteDiagnostics(e.stderr, diags, useColor(e.stderr))
		return e.errorf("the answers do not make a valid configuration (see above); nothing was written")
	}
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		return e.errorf("%v", err)
	}
	if err := hclgen.WriteNew(mainPath, src, 0o644); err != nil {
		return e.errorf("%v", err)
	}
	fmt.Fprintf(e.stdout, "\nWrote %s.\n", mainPath)
	ignore := filepath.Join(e.dir, ".gitignore")
	ignored, what := []string{".certctl/"}, "the state and its key"
	// A target inside the repository receives private keys (NAME.key).
	if t := filepath.ToSlash(filepath.Clean(s.TargetDir)); s.TargetDir != "" && !filepath.IsAbs(s.TargetDir) && t != "." && !strings.HasPrefix(t, "../") && t != ".." {
		ignored, what = append(ignored, "/"+t+"/"), "the state, its key and the private keys the target writes"
	}
	content := "# certctl state and its key, and the files certctl deploys here with\n# their private keys: back them up, never commit them.\n" + strings.Join(ignored, "\n") + "\n"
	switch err := hclgen.WriteNew(ignore, []byte(content), 0o644); {
	case err == nil:
		fmt.Fprintf(e.stdout, "Wrote %s (keeps %s out of git).\n", ignore, what)
	case errors.Is(err, os.ErrExist):
		fmt.Fprintf(e.stdout, "%s exists and was left alone: add %s to it to keep %s out of git.\n", ignore, strings.Join(ignored, " and "), what)
	default:
		return e.errorf("%v", err)
	}
	if s.CA == hclgen.CAACME && s.Challenge == hclgen.ChallDNS {
		for _, p := range acme.Providers() {
			if p.Name == s.DNSProvider {
				fmt.Fprintf(e.stdout, "Set the settings of %s in certctl's environment (or in dns01.config): %s.\n", p.Name, strings.Join(p.Settings, ", "))
			}
		}
	}
	fmt.Fprintln(e.stdout, "Next: certctl validate, certctl plan, certctl apply.")
	return exitOK
}

// initDirFS is the directory init checks main.hcl in: dir, or nothing
// before dir exists.
func initDirFS(dir string) fs.FS {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return os.DirFS(dir)
	}
	return emptyDir{}
}

// emptyDir is a file system with nothing in it: the directory init
// checks main.hcl in before the directory exists.
type emptyDir struct{}

func (emptyDir) Open(name string) (fs.File, error) {
	if name == "." {
		return emptyRoot{}, nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

type emptyRoot struct{}

func (emptyRoot) Stat() (fs.FileInfo, error)         { return emptyRootInfo{}, nil }
func (emptyRoot) Read([]byte) (int, error)           { return 0, io.EOF }
func (emptyRoot) Close() error                       { return nil }
func (emptyRoot) ReadDir(int) ([]fs.DirEntry, error) { return nil, nil }

type emptyRootInfo struct{}

func (emptyRootInfo) Name() string       { return "." }
func (emptyRootInfo) Size() int64        { return 0 }
func (emptyRootInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o755 }
func (emptyRootInfo) ModTime() time.Time { return time.Time{} }
func (emptyRootInfo) IsDir() bool        { return true }
func (emptyRootInfo) Sys() any           { return nil }
