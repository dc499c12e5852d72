package reconcile

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"maps"
	"math"
	"net"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// attrs are the attributes a certificate is issued with: the ones whose
// change forces a replacement. Name lists are normalised (sorted, without
// duplicates; DNS names in lower case) so that order in the config does not
// matter.
type attrs struct {
	CommonName     string
	DNSNames       []string
	IPAddresses    []string
	EmailAddresses []string
	KeyAlgorithm   string
	Issuer         string
	Usages         []string
	// The publication URLs a local CA writes into the certificate (see
	// spec.Issuer): "" for none, and for ACME.
	IssuerURL, OCSPURL, CRLURL string
	// NoSubjectCN is the policy's subject_common_name = false.
	NoSubjectCN bool
}

// specAttrs are the attributes c asks for under cfg.
func specAttrs(c *spec.Certificate, cfg *spec.Config) attrs {
	var pol *spec.Policy
	if cfg != nil {
		pol = cfg.Policies[c.Policy]
	}
	ips := make([]string, len(c.IPAddresses))
	for i, ip := range c.IPAddresses {
		ips[i] = ip.String()
	}
	a := attrs{
		CommonName:     c.CommonName,
		DNSNames:       normNames(c.DNSNames, true),
		IPAddresses:    normNames(ips, false),
		EmailAddresses: normNames(c.EmailAddresses, false),
		KeyAlgorithm:   c.KeyAlgorithm,
		Issuer:         c.Issuer,
		Usages:         policyUsages(pol),
		NoSubjectCN:    pol != nil && pol.OmitSubjectCommonName,
	}
	if cfg != nil {
		if is := cfg.Issuers[c.Issuer]; is != nil && is.Type == spec.IssuerTypeLocalCA {
			a.IssuerURL, a.OCSPURL, a.CRLURL = is.IssuerURL, is.OCSPURL, is.CRLURL
		}
	}
	return a
}

// recordAttrs are the attributes rec's current certificate was issued with.
func recordAttrs(rec *state.Certificate) attrs {
	ips := rec.IPAddresses
	if !canonicalIPs(ips) {
		c := make([]string, len(ips))
		for i, s := range ips {
			if ip := net.ParseIP(s); ip != nil {
				s = ip.String()
			}
			c[i] = s
		}
		ips = c
	}
	return attrs{
		CommonName:     rec.CommonName,
		DNSNames:       normNames(rec.DNSNames, true),
		IPAddresses:    normNames(ips, false),
		EmailAddresses: normNames(rec.EmailAddresses, false),
		KeyAlgorithm:   rec.KeyAlgorithm,
		Issuer:         rec.Issuer,
		Usages:         normNames(rec.Usages, false),
		IssuerURL:      rec.IssuerURL,
		OCSPURL:        rec.OCSPURL,
		CRLURL:         rec.CRLURL,
		NoSubjectCN:    rec.NoSubjectCommonName,
	}
}

func canonicalIPs(ss []string) bool {
	for _, s := range ss {
		if ip := net.ParseIP(s); ip == nil || ip.String() != s {
			return false
		}
	}
	return true
}

// policyUsages are the usages certificates under pol get: the policy's,
// sorted, or server_auth when it names none.
func policyUsages(pol *spec.Policy) []string {
	if pol == nil || len(pol.Usages) == 0 {
		return defaultUsages
	}
	return normNames(pol.Usages, false)
}

var defaultUsages = []string{pki.UsageServerAuth}

// normNames returns names sorted and without duplicates, lower-cased if
// fold. It returns names itself (no copy) when it is already normal, which
// is the common case and keeps Plan cheap; callers must not modify it.
func normNames(names []string, fold bool) []string {
	if len(names) == 0 {
		return nil
	}
	if sortedUnique(names) && (!fold || allLower(names)) {
		return names
	}
	out := make([]string, len(names))
	for i, n := range names {
		if fold {
			n = strings.ToLower(n)
		}
		out[i] = n
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func sortedUnique(ss []string) bool {
	for i := 1; i < len(ss); i++ {
		if ss[i-1] >= ss[i] {
			return false
		}
	}
	return true
}

func allLower(ss []string) bool {
	for _, s := range ss {
		for i := 0; i < len(s); i++ {
			if 'A' <= s[i] && s[i] <= 'Z' {
				return false
			}
		}
	}
	return true
}

// forces lists the attributes that differ between want and have, in the
// fixed order of the Attr constants, with a diff for each.
func forces(want, have attrs) ([]string, []AttrDiff) {
	var names []string
	var diffs []AttrDiff
	add := func(name, before, after string) {
		names = append(names, name)
		diffs = append(diffs, AttrDiff{Attribute: name, Before: before, After: after, Forces: true})
	}
	if want.CommonName != have.CommonName {
		add(AttrCommonName, quote(have.CommonName), quote(want.CommonName))
	}
	if !slices.Equal(want.DNSNames, have.DNSNames) {
		add(AttrDNSNames, quoteList(have.DNSNames), quoteList(want.DNSNames))
	}
	if !slices.Equal(want.IPAddresses, have.IPAddresses) {
		add(AttrIPAddresses, quoteList(have.IPAddresses), quoteList(want.IPAddresses))
	}
	if !slices.Equal(want.EmailAddresses, have.EmailAddresses) {
		add(AttrEmailAddresses, quoteList(have.EmailAddresses), quoteList(want.EmailAddresses))
	}
	if want.KeyAlgorithm != have.KeyAlgorithm {
		add(AttrKeyAlgorithm, quote(have.KeyAlgorithm), quote(want.KeyAlgorithm))
	}
	if want.Issuer != have.Issuer {
		add(AttrIssuer, quote(have.Issuer), quote(want.Issuer))
	}
	if !slices.Equal(want.Usages, have.Usages) {
		add(AttrUsages, quoteList(have.Usages), quoteList(want.Usages))
	}
	// A changed issuer says it all: the URLs are the new issuer's.
	if want.Issuer == have.Issuer {
		for _, u := range []struct{ name, want, have string }{
			{AttrIssuerURL, want.IssuerURL, have.IssuerURL},
			{AttrOCSPURL, want.OCSPURL, have.OCSPURL},
			{AttrCRLURL, want.CRLURL, have.CRLURL},
		} {
			if u.want != u.have {
				add(u.name, quote(u.have), quote(u.want))
			}
		}
	}
	if want.NoSubjectCN != have.NoSubjectCN {
		add(AttrSubjectCommonName, strconv.FormatBool(!have.NoSubjectCN), strconv.FormatBool(!want.NoSubjectCN))
	}
	return names, diffs
}

// CertDigest is a digest of the attributes that force a new certificate
// when they change (common_name, dns_names, ip_addresses, email_addresses,
// key_algorithm, issuer, usages, a local CA's issuer_url, ocsp_url and
// crl_url, and the policy's subject_common_name), with name lists sorted.
// Apply stores it in the record of each certificate it issues. cfg
// supplies the policy's usages; it may be nil (then usages are the
// default).
func CertDigest(c *spec.Certificate, cfg *spec.Config) string {
	return attrs.digest(specAttrs(c, cfg))
}

func (a attrs) digest() string {
	d := newDigester("certctl/cert/v1", 512)
	d.str(a.CommonName)
	d.strs(a.DNSNames)
	d.strs(a.IPAddresses)
	d.strs(a.EmailAddresses)
	d.str(a.KeyAlgorithm)
	d.str(a.Issuer)
	d.strs(a.Usages)
	// Only when set: the digests of certificates without URLs stay
	// those that earlier releases recorded.
	if a.IssuerURL != "" || a.OCSPURL != "" || a.CRLURL != "" {
		d.str(a.IssuerURL)
		d.str(a.OCSPURL)
		d.str(a.CRLURL)
	}
	// Likewise: the digests of certificates with a subject CN (the
	// default) stay those that earlier releases recorded.
	if a.NoSubjectCN {
		d.str(AttrSubjectCommonName)
	}
	return d.sum()
}

// IssuerDigest is a digest of what a local CA's root is made from: type,
// common name, key algorithm and validity. A change to it replaces the CA.
// (max_validity bounds leaves, not the root, so it is left out.)
func IssuerDigest(is *spec.Issuer) string {
	d := newDigester("certctl/issuer/v1", 128)
	d.str(is.Type)
	d.str(is.CommonName)
	d.str(is.KeyAlgorithm)
	d.u64(uint64(is.Validity))
	return d.sum()
}

// ConfigDigest is a digest of everything in cfg that a plan depends on:
// every block and attribute, with maps in key order, but not where they
// were declared (DeclRange) nor the directory the config was read from, so
// moving a block between files does not make a saved plan stale. Values of
// sensitive notifier attributes (read through env() or file()) are left
// out: the digest must not let anyone confirm a guessed secret.
func ConfigDigest(cfg *spec.Config) string {
	d := newDigester("certctl/config/v1", digestChunk)
	if cfg == nil {
		return d.sum()
	}
	c := *cfg
	c.Dir = ""
	c.Certificates = nil
	if len(cfg.Notifiers) > 0 {
		c.Notifiers = make(map[string]*spec.Notifier, len(cfg.Notifiers))
		for k, n := range cfg.Notifiers {
			c.Notifiers[k] = maskNotifier(n)
		}
	}
	c.Issuers = maskIssuers(cfg.Issuers) // acme secrets: acme.go
	d.value(reflect.ValueOf(&c).Elem())
	d.u64(uint64(len(cfg.Certificates)))
	for _, name := range slices.Sorted(maps.Keys(cfg.Certificates)) {
		d.str(name)
		d.certificate(cfg.Certificates[name])
	}
	return d.sum()
}

func maskNotifier(n *spec.Notifier) *spec.Notifier {
	if n == nil || len(n.Sensitive) == 0 {
		return n
	}
	m := *n
	mask := func(attr string, vals map[string]string) map[string]string {
		out := make(map[string]string, len(vals))
		for k, v := range vals {
			if n.Sensitive[attr] || n.Sensitive[k] {
				v = "(sensitive)"
			}
			out[k] = v
		}
		return out
	}
	m.Attrs = mask("", n.Attrs)
	m.Headers = mask("headers", n.Headers)
	if n.Sensitive["to"] {
		m.To = []string{"(sensitive)"}
	}
	return &m
}

// digester feeds values to a hash unambiguously: every string and list is
// length-prefixed. It buffers, because many small hash writes cost more
// than the hashing itself.
type digester struct {
	h   hash.Hash
	buf []byte
}

// digestChunk is how much a digester buffers before it hashes.
const digestChunk = 32 << 10

// newDigester starts a digest; size is what the caller expects to write
// (the buffer grows up to digestChunk): a certificate's attributes take a
// few hundred bytes, and Apply digests every certificate it signs.
func newDigester(domain string, size int) *digester {
	d := &digester{h: sha256.New(), buf: make([]byte, 0, min(size, digestChunk))}
	d.str(domain)
	return d
}

// u64 appends v as a uvarint: lengths are small, and fewer bytes hash
// faster.
func (d *digester) u64(v uint64) {
	d.buf = binary.AppendUvarint(d.buf, v)
}

func (d *digester) bytes(b []byte) {
	d.u64(uint64(len(b)))
	d.buf = append(d.buf, b...)
	if len(d.buf) >= digestChunk {
		d.h.Write(d.buf)
		d.buf = d.buf[:0]
	}
}

func (d *digester) str(s string) {
	d.u64(uint64(len(s)))
	d.buf = append(d.buf, s...)
	if len(d.buf) >= digestChunk {
		d.h.Write(d.buf)
		d.buf = d.buf[:0]
	}
}

func (d *digester) strs(ss []string) {
	d.u64(uint64(len(ss)))
	for _, s := range ss {
		d.str(s)
	}
}

func (d *digester) strMap(m map[string]string) {
	d.u64(uint64(len(m)))
	switch len(m) {
	case 0:
	case 1:
		for k, v := range m {
			d.str(k)
			d.str(v)
		}
	default:
		var arr [16]string // labels are few: sort them without allocating
		keys := arr[:0]
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			d.str(k)
			d.str(m[k])
		}
	}
}

func (d *digester) sum() string {
	d.h.Write(d.buf)
	d.buf = d.buf[:0]
	return hex.EncodeToString(d.h.Sum(nil))
}

// certificate digests every field of c but DeclRange, without reflection:
// a configuration holds thousands of certificates. TestCertificateFields
// fails when spec.Certificate gains a field this does not know.
func (d *digester) certificate(c *spec.Certificate) {
	if c == nil {
		d.u64(0)
		return
	}
	d.u64(1)
	d.str(c.Name)
	d.str(c.Label)
	d.str(c.Key)
	d.str(c.CommonName)
	d.strs(c.DNSNames)
	d.u64(uint64(len(c.IPAddresses)))
	for _, ip := range c.IPAddresses {
		d.bytes(ip)
	}
	d.strs(c.EmailAddresses)
	d.str(c.Issuer)
	d.str(c.Policy)
	d.str(c.Owner)
	d.str(c.Team)
	d.strs(c.Targets)
	d.strs(c.Notifiers)
	d.strMap(c.Labels)
	d.str(c.KeyAlgorithm)
	d.u64(uint64(c.Validity))
	d.str(c.OnRemove)
}

var rangeType = reflect.TypeFor[hcl.Range]()

// value walks v: structs field by field (skipping hcl.Range values), maps
// in sorted key order, pointers through to what they point at.
func (d *digester) value(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		d.str(v.String())
	case reflect.Bool:
		if v.Bool() {
			d.u64(1)
		} else {
			d.u64(0)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		d.u64(uint64(v.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		d.u64(v.Uint())
	case reflect.Float32, reflect.Float64:
		d.u64(math.Float64bits(v.Float()))
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			d.u64(0)
			return
		}
		d.u64(1)
		d.value(v.Elem())
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			d.bytes(v.Bytes())
			return
		}
		d.u64(uint64(v.Len()))
		for i := 0; i < v.Len(); i++ {
			d.value(v.Index(i))
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		d.u64(uint64(len(keys)))
		for _, k := range keys {
			d.value(k)
			d.value(v.MapIndex(k))
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Type == rangeType || !f.IsExported() {
				continue
			}
			d.str(f.Name)
			d.value(v.Field(i))
		}
	default:
		// Functions, channels: not in a config.
		d.str(v.Kind().String())
	}
}

// quote renders a string value for a diff.
func quote(s string) string { return strconv.Quote(s) }

// quoteList renders a list value for a diff: ["a", "b"].
func quoteList(ss []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range ss {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote(s))
	}
	b.WriteByte(']')
	return b.String()
}
