package spec

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"
)

// Options adjusts LoadWith. The zero value reads the OS directory and the
// process environment, like Load.
type Options struct {
	// FS, if set, is read instead of the OS directory: the configuration
	// files are at its root and file() paths are relative to it (they may
	// not leave it). Use it to load a git revision. The dir argument is then
	// only recorded in Config.Dir. It must be safe for concurrent reads.
	FS fs.FS
	// Vars sets variable values by name, as CERTCTL_VAR_<name> does, and
	// wins over the environment. Values are strings, parsed as for the
	// environment (see decodeVariables).
	Vars map[string]string
	// LookupEnv reads the environment for env() and CERTCTL_VAR_<name>.
	// nil means os.LookupEnv. It must be safe for concurrent use.
	LookupEnv func(key string) (string, bool)
}

// Parser keeps every file a load read, so that diagnostics can be printed
// with their source lines. Its methods are safe to call on the Parser of a
// failed load, and not safe for concurrent use with each other.
type Parser struct {
	p *hclparse.Parser
}

// Files returns the files read, keyed by the name used in diagnostics
// (relative to the configuration directory, e.g. "main.hcl"). It is the map
// hcl.NewDiagnosticTextWriter expects.
func (p *Parser) Files() map[string]*hcl.File {
	return p.p.Files()
}

// WriteDiagnostics writes diags as text, wrapped at 78 columns and
// coloured when color is true: hcl's rendering (summary, source line with
// the subject highlighted, detail), with the location also given as
// file:line:col on the first line so that editors and grep find it:
//
//	Error: main.hcl:12:17: Unknown issuer
func (p *Parser) WriteDiagnostics(w io.Writer, diags hcl.Diagnostics, color bool) error {
	tw := hcl.NewDiagnosticTextWriter(w, p.Files(), 78, color)
	for _, d := range diags {
		if d.Subject != nil {
			c := *d
			c.Summary = fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, d.Summary)
			d = &c
		}
		if err := tw.WriteDiagnostic(d); err != nil {
			return err
		}
	}
	return nil
}

// Load reads every *.hcl and *.hcl.json file in dir (in name order; files
// whose names start with "." are ignored) and returns the validated Config.
// Diagnostics carry file names relative to dir.
//
// When diags has errors the Config is nil (the files did not parse) or
// partial, and must not be planned against; the Parser is never nil.
// Variables take their value from CERTCTL_VAR_<name> when it is set, else
// from their default.
func Load(dir string) (*Config, *Parser, hcl.Diagnostics) {
	return LoadWith(dir, Options{})
}

// LoadWith is Load with Options.
func LoadWith(dir string, opts Options) (*Config, *Parser, hcl.Diagnostics) {
	l := newLoader(dir, opts)
	if !l.parse() {
		return nil, l.parser, l.finish()
	}
	l.collect()
	l.decodeVariables()
	l.decodeLocals()
	l.decodeBlocks()
	return l.cfg, l.parser, l.finish()
}

// ConfigFiles lists the configuration files of dir that Load reads, as base
// names in the order Load reads them.
func ConfigFiles(dir string) ([]string, error) {
	return configFiles(os.DirFS(dir))
}

func configFiles(fsys fs.FS) ([]string, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") {
			continue
		}
		if strings.HasSuffix(n, ".hcl") || strings.HasSuffix(n, ".hcl.json") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// loader holds the state of one Load.
type loader struct {
	dir       string
	fsys      fs.FS // nil: the OS, rooted at dir
	filesFS   fs.FS // where the configuration files are read from
	vars      map[string]string
	lookupEnv func(string) (string, bool)

	parser *Parser
	files  []*hcl.File
	blocks map[string][]*hcl.Block // by block type, in file order

	cfg   *Config
	diags hcl.Diagnostics
	ctx   *hcl.EvalContext // var, local and the functions

	// secrets holds every string env() and file() returned; finish scrubs
	// them from diagnostic text in case one slipped into a message.
	secrets   map[string]struct{}
	secretsMu sync.Mutex
	// broken names blocks ("policy.x") that had errors, so that checks
	// which depend on them do not pile up consequential errors.
	broken map[string]bool
	// certDecls holds the declaration of each certificate block label.
	certDecls map[string]hcl.Range
	// declared holds the names of variables ("var") and locals ("local").
	declared map[string]map[string]bool
	// certWork holds the certificate instances still to decode.
	certWork []certWork
}

func newLoader(dir string, opts Options) *loader {
	l := &loader{
		dir:       dir,
		fsys:      opts.FS,
		vars:      opts.Vars,
		lookupEnv: opts.LookupEnv,
		parser:    &Parser{p: hclparse.NewParser()},
		blocks:    map[string][]*hcl.Block{},
		secrets:   map[string]struct{}{},
		broken:    map[string]bool{},
		certDecls: map[string]hcl.Range{},
		declared:  map[string]map[string]bool{"var": {}, "local": {}},
		cfg: &Config{
			Dir:          dir,
			Teams:        map[string]*Team{},
			Owners:       map[string]*Owner{},
			Policies:     map[string]*Policy{},
			Issuers:      map[string]*Issuer{},
			Notifiers:    map[string]*Notifier{},
			Agents:       map[string]*Agent{},
			Targets:      map[string]*Target{},
			Certificates: map[string]*Certificate{},
		},
	}
	if l.lookupEnv == nil {
		l.lookupEnv = os.LookupEnv
	}
	l.filesFS = l.fsys
	if l.filesFS == nil {
		l.filesFS = os.DirFS(dir)
	}
	l.ctx = &hcl.EvalContext{
		Variables: map[string]cty.Value{},
		Functions: l.functions(),
	}
	return l
}

// parse reads and parses every configuration file. It reports whether all
// of them parsed; later phases never see a file with syntax errors.
func (l *loader) parse() bool {
	names, err := configFiles(l.filesFS)
	if err != nil {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Cannot read configuration directory",
			Detail:   fmt.Sprintf("Reading %s failed: %v.", l.dir, unwrapPathError(err)),
		})
		return false
	}
	if len(names) == 0 {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No configuration files",
			Detail:   fmt.Sprintf("The directory %s contains no *.hcl or *.hcl.json files. Run certctl in the directory that holds the configuration, or pass -chdir.", l.dir),
		})
		return false
	}
	// Files are read and parsed in parallel (parsing is most of the cost
	// of a load), then added in name order so the result is deterministic.
	type result struct {
		file  *hcl.File
		diags hcl.Diagnostics
	}
	results := make([]result, len(names))
	parallel(len(names), func(i int) {
		name := names[i]
		src, err := fs.ReadFile(l.filesFS, name)
		if err != nil {
			results[i].diags = hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Cannot read configuration file",
				Detail:   fmt.Sprintf("Reading %s failed: %v.", name, unwrapPathError(err)),
			}}
			return
		}
		var f *hcl.File
		var diags hcl.Diagnostics
		if strings.HasSuffix(name, ".json") {
			f, diags = json.Parse(src, name)
		} else {
			f, diags = hclsyntax.ParseConfig(src, name, hcl.InitialPos)
		}
		if f == nil {
			f = &hcl.File{Body: hcl.EmptyBody(), Bytes: src}
		}
		results[i] = result{f, diags}
	})
	for i, r := range results {
		l.diags = append(l.diags, r.diags...)
		if r.file != nil {
			l.parser.p.AddFile(names[i], r.file)
			if !r.diags.HasErrors() {
				l.files = append(l.files, r.file)
			}
		}
	}
	return !l.diags.HasErrors()
}

// collect splits the top level of every file into blocks by type.
func (l *loader) collect() {
	for _, f := range l.files {
		content, diags := f.Body.Content(rootSchema)
		l.diags = append(l.diags, diags...)
		for _, b := range content.Blocks {
			l.blocks[b.Type] = append(l.blocks[b.Type], b)
		}
	}
}

// decodeBlocks decodes every block kind in dependency order: a kind is
// decoded only after the kinds it refers to are complete, so references are
// checked with one map lookup each.
func (l *loader) decodeBlocks() {
	l.decodeSettings(l.blocks["certctl"])
	for _, b := range l.blocks["notifier"] {
		l.decodeNotifierBlock(b)
	}
	for _, b := range l.blocks["team"] {
		l.decodeTeamBlock(b)
	}
	for _, b := range l.blocks["owner"] {
		l.decodeOwnerBlock(b)
	}
	for _, b := range l.blocks["agent"] {
		l.decodeAgentBlock(b)
	}
	for _, b := range l.blocks["target"] {
		l.decodeTargetBlock(b)
	}
	for _, b := range l.blocks["policy"] {
		l.decodePolicyBlock(b)
	}
	for _, b := range l.blocks["issuer"] {
		l.decodeIssuerBlock(b)
	}
	for _, b := range l.blocks["certificate"] {
		l.decodeCertificateBlock(b)
	}
	l.decodeCertificates()
}

// parallel runs f(0) … f(n-1) on up to GOMAXPROCS goroutines and waits.
func parallel(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}
