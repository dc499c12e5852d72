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
	// Extra holds configuration files, by base name, read as if they were
	// in the directory (one of the same name is hidden): to check files
	// before they are written (certctl import, certctl init). Diagnostics
	// name them like the directory's own.
	Extra map[string][]byte
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
// hcl.NewDiagnosticTextWriter expects. A file keeps its source (Bytes) and
// what the writer asks of its Nav; the syntax tree of a native-syntax file
// that parsed is not kept (its Body is empty), so that a large
// configuration is not held in memory twice.
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
	return loadWith(dir, opts, false)
}

// loadWith is LoadWith; with reference set, it takes none of the shortcuts
// that make a large load fast and small (see loader.reference), for tests
// that check the shortcuts change nothing.
func loadWith(dir string, opts Options, reference bool) (*Config, *Parser, hcl.Diagnostics) {
	l := newLoader(dir, opts)
	l.reference = reference
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
	names, err := configFiles(os.DirFS(dir))
	if err != nil {
		return nil, fmt.Errorf("reading configuration directory %s: %w", dir, err)
	}
	return names, nil
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
	// reference turns off the shortcuts, which must not change the
	// result: parsing files in pieces (parseNative), decoding certificates
	// early (prepareCertificate), reading literals without evaluating them
	// (literal.go), and dropping syntax trees from the Parser's files.
	reference bool

	parser *Parser
	parsed []parsedFile            // by file name, once every file parsed
	blocks map[string][]*hcl.Block // by block type, in file order
	// certBlocks are the certificate blocks, in file order (they are not
	// in blocks).
	certBlocks []*certBlock

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
	if len(opts.Extra) > 0 {
		l.filesFS = overlayFS{base: l.filesFS, extra: opts.Extra}
	}
	l.ctx = &hcl.EvalContext{
		Variables: map[string]cty.Value{},
		Functions: l.functions(l.recordSecret),
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
	// Files are read, parsed and split into blocks in parallel (parsing is
	// most of the cost of a load) by GOMAXPROCS workers, then added in name
	// order so the result is deterministic. A worker also decodes what it
	// can of its file's certificates (see prepareCertificate) and keeps
	// only what later phases need of the file's syntax tree, so that the
	// trees of a large configuration are not all in memory at once.
	parsed := make([]parsedFile, len(names))
	parallel(len(names), func(i int) {
		parsed[i] = l.parseFile(names[i])
	})
	for i, pf := range parsed {
		l.diags = append(l.diags, pf.diags...)
		if pf.file != nil {
			l.parser.p.AddFile(names[i], pf.file)
		}
	}
	if l.diags.HasErrors() {
		return false
	}
	l.parsed = parsed
	return true
}

// parsedFile is what parseFile made of one file.
type parsedFile struct {
	file  *hcl.File       // for the Parser; nil if the file could not be read
	diags hcl.Diagnostics // of reading and parsing
	// When the file parsed: its top-level blocks (certificate blocks are
	// in certs instead) and the diagnostics of splitting it into blocks.
	blocks      hcl.Blocks
	certs       []*certBlock
	blocksDiags hcl.Diagnostics
}

// parseFile reads and parses one file and splits its top level into
// blocks. It runs on several goroutines at once: it reads the loader's
// settings and records nothing in the loader.
func (l *loader) parseFile(name string) parsedFile {
	src, err := fs.ReadFile(l.filesFS, name)
	if err != nil {
		return parsedFile{diags: hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read configuration file",
			Detail:   fmt.Sprintf("Reading %s failed: %v.", name, unwrapPathError(err)),
		}}}
	}
	var f *hcl.File
	var diags hcl.Diagnostics
	if strings.HasSuffix(name, ".json") {
		f, diags = json.Parse(src, name)
	} else if l.reference {
		f, diags = hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	} else {
		f, diags = parseNative(src, name)
	}
	if f == nil {
		f = &hcl.File{Body: hcl.EmptyBody(), Bytes: src}
	}
	pf := parsedFile{file: f, diags: diags}
	if diags.HasErrors() {
		return pf // not evaluated; the Parser keeps it whole for the diagnostics
	}
	content, diags := f.Body.Content(rootSchema)
	pf.blocksDiags = diags
	var early *earlyEval
	for _, b := range content.Blocks {
		if b.Type != "certificate" {
			pf.blocks = append(pf.blocks, b)
			continue
		}
		if early == nil {
			early = l.newEarlyEval()
		}
		pf.certs = append(pf.certs, l.prepareCertificate(b, early))
	}
	// The blocks hold what later phases need of the tree.
	if body, ok := f.Body.(*hclsyntax.Body); ok && !l.reference {
		pf.file = &hcl.File{Body: hcl.EmptyBody(), Bytes: src, Nav: newBlockNav(body)}
	}
	return pf
}

// collect sorts the top-level blocks of every file by type, in file order.
func (l *loader) collect() {
	for _, pf := range l.parsed {
		l.diags = append(l.diags, pf.blocksDiags...)
		for _, b := range pf.blocks {
			l.blocks[b.Type] = append(l.blocks[b.Type], b)
		}
		l.certBlocks = append(l.certBlocks, pf.certs...)
	}
	l.parsed = nil
}

// blockNav stands in for the navigation of a native-syntax file whose
// syntax tree is not kept: hcl's diagnostic text writer asks it which
// top-level block an offset is in, to print `on main.hcl line 12, in
// certificate "www":`. It answers as hclsyntax's own navigation does.
type blockNav []navBlock

type navBlock struct {
	start, end int // byte offsets of the block, from its type to its "}"
	typ        string
	labels     []string
	def        hcl.Range
}

func newBlockNav(body *hclsyntax.Body) blockNav {
	nav := make(blockNav, len(body.Blocks))
	for i, b := range body.Blocks {
		rng := b.Range()
		nav[i] = navBlock{start: rng.Start.Byte, end: rng.End.Byte, typ: b.Type, labels: b.Labels, def: b.DefRange()}
	}
	return nav
}

func (n blockNav) find(offset int) *navBlock {
	for i := range n {
		if offset >= n[i].start && offset < n[i].end {
			return &n[i]
		}
	}
	return nil
}

// ContextString returns the header of the block at offset, like
// `certificate "www"`, or "".
func (n blockNav) ContextString(offset int) string {
	b := n.find(offset)
	if b == nil {
		return ""
	}
	var sb strings.Builder
	sb.WriteString(b.typ)
	for _, label := range b.labels {
		fmt.Fprintf(&sb, " %q", label)
	}
	return sb.String()
}

// ContextDefRange returns the definition range of the block at offset.
func (n blockNav) ContextDefRange(offset int) hcl.Range {
	if b := n.find(offset); b != nil {
		return b.def
	}
	return hcl.Range{}
}

// decodeBlocks decodes every block kind in dependency order: a kind is
// decoded only after the kinds it refers to are complete, so references are
// checked with one map lookup each.
func (l *loader) decodeBlocks() {
	l.decodeSettings(l.blocks["certctl"])
	l.decodeServer(l.blocks["server"]) // before the issuers: their default URLs
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
	for _, cb := range l.certBlocks {
		l.decodeCertificateBlock(cb)
	}
	l.certBlocks = nil // certWork holds what is left to do
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
