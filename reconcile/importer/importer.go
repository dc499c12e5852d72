// Package importer brings certificates issued outside certctl under its
// management: `certctl import`. The entry points are Prepare, which decides
// the name and issuer of each certificate found (pki/discover) and
// generates the configuration file that declares them, Import.Records,
// which builds their state records once that file loads with the rest of
// the configuration, and Commit, which writes both so that either both are
// in place or neither is.
//
// Issuers. A certificate signed by the root of a local CA of the
// configuration (as recorded in the state) is imported under that CA,
// which renews it when it is due. Every other certificate goes to the
// issuer the operator names (Options.Issuer): an external one (`external`
// is declared in the generated file when the configuration has no issuer
// of that name) only monitors it; naming an ACME or local CA issuer asks
// that issuer to renew it from its renewal time on.
package importer

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/pki/discover"
	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/spec/hclgen"
	"github.com/certctl/certctl/state"
)

// ExternalIssuer is the issuer name that, when the configuration has no
// issuer of that name, declares `issuer "external" "external" {}`.
const ExternalIssuer = spec.IssuerTypeExternal

// Options are the operator's choices. Every field is required: an import
// defaults nothing.
type Options struct {
	Owner, Team, Policy string
	// Issuer receives the certificates no local CA of the configuration
	// signed (see the package comment).
	Issuer string
	// Name gives each certificate its name (see NameData and
	// ParseNameTemplate).
	Name *template.Template
}

// NameData is what a name template sees of a certificate.
type NameData struct {
	// CommonName is the name the certificate block gets as common_name:
	// the certificate's own, or its first DNS name or IP address when it
	// has none usable.
	CommonName string
	DNSNames   []string
	// Serial is the serial number in hex.
	Serial string
	// Source is where it was found: a file path or "[SNI@]host:port".
	Source string
	// File is Source's base name without its extension ("www" for
	// certs/www.crt), or the host for an endpoint.
	File string
	// Issuer is the common name of the certificate's issuer.
	Issuer string
}

// ParseNameTemplate parses a name template: Go text/template over NameData,
// with the function slug (lower case, every run of characters other than
// letters, digits, '_' and '-' becomes '_'; a leading "*." becomes
// "wildcard_"; a leading digit gets a '_' before it), so that
// '{{.CommonName | slug}}' names www.example.com "www_example_com".
func ParseNameTemplate(s string) (*template.Template, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("the name template is empty")
	}
	t, err := template.New("name").Option("missingkey=error").Funcs(template.FuncMap{"slug": Slug}).Parse(s)
	if err != nil {
		return nil, fmt.Errorf("parsing the name template: %w", err)
	}
	return t, nil
}

// Slug turns s into a certificate name (see ParseNameTemplate).
func Slug(s string) string {
	s = strings.ToLower(s)
	if rest, ok := strings.CutPrefix(s, "*."); ok {
		s = "wildcard_" + rest
	}
	var b strings.Builder
	under := false
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-'
		if !ok {
			if !under {
				b.WriteByte('_')
			}
			under = true
			continue
		}
		b.WriteRune(r)
		under = r == '_'
	}
	out := strings.Trim(b.String(), "_")
	if out == "" || out[0] >= '0' && out[0] <= '9' || out[0] == '-' {
		out = "_" + out
	}
	return out
}

// Item is one certificate to import.
type Item struct {
	Name   string
	Found  *discover.Found
	Issuer string
	// SignedBy is set when a local CA of the configuration signed it (and
	// is then Issuer).
	SignedBy bool
	// External is true when Issuer is an external issuer: monitored only.
	External bool
	Names    reconcile.LeafNames
	// CommonName is what the block declares (see NameData.CommonName).
	CommonName string
	chainPEM   []byte
}

// Known is a certificate found that the state already holds.
type Known struct {
	Found *discover.Found
	Name  string // its record's name
}

// Import is what Prepare decided.
type Import struct {
	Items []*Item // sorted by name
	Known []Known
	// Skipped lists certificates that cannot be imported, as
	// "SOURCE: why".
	Skipped []string
	// DeclaresExternal is set when the file declares the external issuer.
	DeclaresExternal bool
	// HCL is the configuration file, in canonical layout; nil when there
	// is nothing to import.
	HCL []byte
}

// Prepare decides the names and issuers of the certificates found and
// generates the file that declares them. cfg is the configuration as it is
// (without the file); snap the state, whose local CA records identify the
// certificates they signed and whose records identify certificates already
// managed. It fails, before anything is written, on a missing option, an
// owner, team, policy or issuer the configuration lacks, a name the
// template makes that is invalid, or names that collide with each other or
// with the configuration or the state. Pure.
func Prepare(cfg *spec.Config, snap *state.Snapshot, found []*discover.Found, opts Options) (*Import, error) {
	if err := checkOptions(cfg, opts); err != nil {
		return nil, err
	}
	if snap == nil {
		snap = &state.Snapshot{}
	}
	fallback, fallbackExternal, declare := opts.Issuer, false, false
	if is := cfg.Issuers[opts.Issuer]; is != nil {
		fallbackExternal = is.Type == spec.IssuerTypeExternal
	} else {
		fallbackExternal, declare = true, true // checkOptions allowed only "external"
	}
	roots := localRoots(cfg, snap)
	byFingerprint := make(map[string]string, len(snap.Certificates))
	for name, rec := range snap.Certificates {
		if rec.Fingerprint != "" {
			byFingerprint[rec.Fingerprint] = name
		}
	}

	imp := &Import{}
	sources := map[string]string{} // name -> source, for collisions
	var errs []error
	seen := map[string]bool{}
	for _, f := range found {
		fp := pki.Fingerprint(f.Leaf)
		if seen[fp] {
			continue // found twice (a directory and an endpoint)
		}
		seen[fp] = true
		if name, ok := byFingerprint[fp]; ok {
			imp.Known = append(imp.Known, Known{Found: f, Name: name})
			continue
		}
		names := reconcile.LeafAttrs(f.Leaf)
		if names.KeyAlgorithm == "" {
			imp.Skipped = append(imp.Skipped, f.Source+": its key type is not one certctl manages ("+strings.Join(pki.KeyAlgorithms, ", ")+")")
			continue
		}
		cn := commonName(names)
		if cn == "" {
			imp.Skipped = append(imp.Skipped, f.Source+": it names nothing (no common name, DNS name, IP or email address)")
			continue
		}
		it := &Item{Found: f, Names: names, CommonName: cn, Issuer: fallback, External: fallbackExternal}
		if ca, ok := signedBy(f.Leaf, roots); ok {
			it.Issuer, it.SignedBy, it.External = ca.name, true, false
			it.chainPEM = ca.pem
		} else {
			for _, c := range f.Chain {
				it.chainPEM = append(it.chainPEM, pki.EncodeCertificatePEM(c.Raw)...)
			}
		}
		name, err := itemName(opts.Name, it)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		it.Name = name
		switch {
		case sources[name] != "":
			errs = append(errs, fmt.Errorf("the name template gives %q to both %s and %s: add something that tells them apart, such as {{.Serial}}", name, sources[name], f.Source))
		case cfg.Certificates[name] != nil:
			errs = append(errs, fmt.Errorf("the name template gives %q to %s, and certificate.%s is already declared at %s:%d", name, f.Source, name, cfg.Certificates[name].DeclRange.Filename, cfg.Certificates[name].DeclRange.Start.Line))
		case snap.Certificates[name] != nil:
			errs = append(errs, fmt.Errorf("the name template gives %q to %s, and the state already has a record of that name (run certctl plan to see it)", name, f.Source))
		}
		sources[name] = f.Source
		imp.Items = append(imp.Items, it)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(imp.Items, func(a, b *Item) int { return strings.Compare(a.Name, b.Name) })
	if len(imp.Items) == 0 {
		return imp, nil
	}
	for _, it := range imp.Items {
		if it.External && declare {
			imp.DeclaresExternal = true
		}
	}
	imp.HCL = generate(imp, cfg, opts)
	return imp, nil
}

// Missing names the options that are not set, by their certctl import
// flag, or returns nil when all are.
func (o Options) Missing() error {
	var missing []string
	for _, f := range []struct{ flag, v string }{{"-owner", o.Owner}, {"-team", o.Team}, {"-policy", o.Policy}, {"-issuer", o.Issuer}} {
		if f.v == "" {
			missing = append(missing, f.flag)
		}
	}
	if o.Name == nil {
		missing = append(missing, "-name")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s: an import sets every required field of the certificates it declares and defaults none", strings.Join(missing, ", "))
	}
	return nil
}

func checkOptions(cfg *spec.Config, opts Options) error {
	if err := opts.Missing(); err != nil {
		return err
	}
	var errs []error
	if cfg.Owners[opts.Owner] == nil {
		errs = append(errs, fmt.Errorf("-owner %s: the configuration declares no owner %q", opts.Owner, opts.Owner))
	}
	if cfg.Teams[opts.Team] == nil {
		errs = append(errs, fmt.Errorf("-team %s: the configuration declares no team %q", opts.Team, opts.Team))
	}
	if cfg.Policies[opts.Policy] == nil {
		errs = append(errs, fmt.Errorf("-policy %s: the configuration declares no policy %q", opts.Policy, opts.Policy))
	}
	if cfg.Issuers[opts.Issuer] == nil && opts.Issuer != ExternalIssuer {
		errs = append(errs, fmt.Errorf("-issuer %s: the configuration declares no issuer %q; name one, or %q to only monitor the certificates no local CA of the configuration signed", opts.Issuer, opts.Issuer, ExternalIssuer))
	}
	return errors.Join(errs...)
}

// commonName picks the common name a block declares: the certificate's
// own when it is one of its DNS names or IP addresses, or when it names
// no host at all (an S/MIME or client certificate: a person, a service
// or a mailbox, which the policy then must allow); else its first DNS
// name or IP address. A certificate with neither a host nor a subject
// common name is declared by its first email address.
func commonName(n reconcile.LeafNames) string {
	host := len(n.DNSNames) > 0 || len(n.IPAddresses) > 0
	if n.CommonName != "" && (slices.Contains(n.DNSNames, n.CommonName) || slices.Contains(n.IPAddresses, n.CommonName) || !host) {
		return n.CommonName
	}
	if len(n.DNSNames) > 0 {
		return n.DNSNames[0]
	}
	if len(n.IPAddresses) > 0 {
		return n.IPAddresses[0]
	}
	if len(n.EmailAddresses) > 0 {
		return n.EmailAddresses[0]
	}
	return ""
}

type localRoot struct {
	name string
	cert *x509.Certificate
	pem  []byte
}

// localRoots are the roots of the configuration's local CAs that the
// state holds, by issuer name.
func localRoots(cfg *spec.Config, snap *state.Snapshot) []localRoot {
	var out []localRoot
	for name, is := range cfg.Issuers {
		rec := snap.Issuers[name]
		if is.Type != reconcile.IssuerTypeLocalCA || rec == nil || len(rec.CertPEM) == 0 {
			continue
		}
		if c, err := pki.ParseCertificatePEM(rec.CertPEM); err == nil {
			out = append(out, localRoot{name: name, cert: c, pem: rec.CertPEM})
		}
	}
	slices.SortFunc(out, func(a, b localRoot) int { return strings.Compare(a.name, b.name) })
	return out
}

func signedBy(leaf *x509.Certificate, roots []localRoot) (localRoot, bool) {
	for _, r := range roots {
		if bytes.Equal(leaf.RawIssuer, r.cert.RawSubject) && leaf.CheckSignatureFrom(r.cert) == nil {
			return r, true
		}
	}
	return localRoot{}, false
}

// itemName runs the name template for it.
func itemName(t *template.Template, it *Item) (string, error) {
	f := it.Found
	file := filepath.Base(f.Source)
	if strings.Contains(f.Source, ":") && !strings.ContainsRune(f.Source, os.PathSeparator) {
		// An endpoint: [SNI@]host:port.
		hostport := f.Source[strings.LastIndexByte(f.Source, '@')+1:]
		file = hostport[:strings.LastIndexByte(hostport, ':')]
	} else if ext := filepath.Ext(file); ext != "" && ext != file {
		file = strings.TrimSuffix(file, ext)
	}
	data := NameData{
		CommonName: it.CommonName, DNSNames: it.Names.DNSNames, Serial: pki.SerialHex(f.Leaf),
		Source: f.Source, File: file, Issuer: f.Leaf.Issuer.CommonName,
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("the name template failed for %s: %w", f.Source, err)
	}
	name := b.String()
	if !spec.ValidName(name) {
		return "", fmt.Errorf("the name template gives %q for %s, which is not a valid certificate name (a letter or '_', then letters, digits, '_' and '-'); the slug function makes one", name, f.Source)
	}
	return name, nil
}

// generate writes the file: the external issuer when it must be declared,
// then one certificate block per item, each with a comment that says where
// it came from.
func generate(imp *Import, cfg *spec.Config, opts Options) []byte {
	f := hclgen.NewFile()
	if imp.DeclaresExternal {
		f.Comment("Certificates issued outside certctl: monitored (expiry notices, status,\nmetrics), never renewed.")
		f.Block("issuer", spec.IssuerTypeExternal, ExternalIssuer)
	}
	policyAlg := cfg.Policies[opts.Policy].KeyAlgorithm
	for _, it := range imp.Items {
		leaf := it.Found.Leaf
		how := "renewed by issuer." + it.Issuer + " when due"
		if it.External {
			how = "monitored only"
		}
		f.Comment(fmt.Sprintf("Imported from %s: serial %s, expires %s; %s.",
			it.Found.Source, pki.SerialHex(leaf), leaf.NotAfter.UTC().Format(time.RFC3339), how))
		b := f.Block("certificate", it.Name)
		b.String("common_name", it.CommonName)
		b.Strings("dns_names", it.Names.DNSNames)
		b.Strings("ip_addresses", it.Names.IPAddresses)
		b.Strings("email_addresses", it.Names.EmailAddresses)
		if it.Names.KeyAlgorithm != policyAlg {
			b.String("key_algorithm", it.Names.KeyAlgorithm)
		}
		b.Ref("issuer", "issuer", it.Issuer)
		b.Ref("policy", "policy", opts.Policy)
		b.Ref("owner", "owner", opts.Owner)
		b.Ref("team", "team", opts.Team)
	}
	return f.Bytes()
}

// Records returns the state records of imp's items. cfg must be the
// configuration loaded with imp.HCL (so that each item is a certificate
// of it); seal seals a private key with the state's key. Keys are sealed
// at once and their clear form is not kept.
func (imp *Import) Records(cfg *spec.Config, seal func([]byte) ([]byte, error), now time.Time) ([]*state.Certificate, error) {
	recs := make([]*state.Certificate, 0, len(imp.Items))
	for _, it := range imp.Items {
		c := cfg.Certificates[it.Name]
		if c == nil {
			return nil, fmt.Errorf("importing %s: not in the configuration", reconcile.CertAddress(it.Name))
		}
		var sealed []byte
		if it.Found.Key != nil {
			keyPEM, err := pki.MarshalPrivateKeyPEM(it.Found.Key)
			if err != nil {
				return nil, fmt.Errorf("importing %s: %w", reconcile.CertAddress(it.Name), err)
			}
			sealed, err = seal(keyPEM)
			clear(keyPEM)
			if err != nil {
				return nil, fmt.Errorf("importing %s: sealing its key: %w", reconcile.CertAddress(it.Name), err)
			}
		}
		rec, err := reconcile.ImportedRecord(cfg, c, it.Found.Leaf, it.chainPEM, sealed, now)
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// Store is what Commit writes records to (state.DB implements it).
type Store interface {
	ImportCertificates(ctx context.Context, recs []*state.Certificate) error
	DeleteCertificates(ctx context.Context, names []string) error
}

var _ Store = (*state.DB)(nil)

// Commit writes the configuration file path (which must not exist) and the
// records, so that both are in place or neither: the file is written
// under a temporary name and synced, the records are committed in one
// transaction, then the file is linked to its name, which fails if the
// name appeared in the meantime (then the records are deleted again).
func Commit(ctx context.Context, store Store, path string, src []byte, recs []*state.Certificate) error {
	staged, err := hclgen.Stage(path, src, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists: certctl import never overwrites a file; name another with -out", path)
	}
	if err != nil {
		return err
	}
	if err := store.ImportCertificates(ctx, recs); err != nil {
		staged.Discard()
		return err
	}
	if lerr := staged.Link(); lerr != nil {
		names := make([]string, len(recs))
		for i, r := range recs {
			names[i] = r.Name
		}
		// Not the caller's context: the undo must run even when it is done.
		if derr := store.DeleteCertificates(context.WithoutCancel(ctx), names); derr != nil {
			return fmt.Errorf("%w; and removing the records just imported failed too (%v): remove them with certctl or restore the state from a backup", lerr, derr)
		}
		return fmt.Errorf("%w (the records were not kept)", lerr)
	}
	return nil
}
