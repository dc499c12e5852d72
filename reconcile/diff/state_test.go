package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// appliedSnapshot is a state in which every certificate of cfg was issued
// at issued with cfg's attributes and deployed to its targets, as apply
// records them.
func appliedSnapshot(cfg *spec.Config, issued time.Time) *state.Snapshot {
	snap := &state.Snapshot{Lineage: "0123456789abcdef", Serial: 7, Certificates: map[string]*state.Certificate{}, Issuers: map[string]*state.Issuer{}}
	for name, is := range cfg.Issuers {
		if is.Type == reconcile.IssuerTypeLocalCA {
			snap.Issuers[name] = &state.Issuer{Name: name, Type: is.Type, Digest: reconcile.IssuerDigest(is), CreatedAt: issued}
		}
	}
	for name, c := range cfg.Certificates {
		fp := fmt.Sprintf("%064x", len(snap.Certificates)+1)
		rec := &state.Certificate{
			Name: name, Digest: reconcile.CertDigest(c, cfg), Serial: "01", NotBefore: issued, NotAfter: issued.Add(c.Validity),
			Fingerprint: fp, Issuer: c.Issuer, CommonName: c.CommonName, DNSNames: c.DNSNames, KeyAlgorithm: c.KeyAlgorithm,
			Usages: []string{"server_auth"}, Owner: c.Owner, Team: c.Team, Labels: c.Labels, OnRemove: c.OnRemove,
			Status: state.StatusIssued, IssuedAt: issued, Deployments: map[string]state.Deployment{},
		}
		for _, tg := range c.Targets {
			rec.Deployments[tg] = state.Deployment{Fingerprint: fp}
		}
		snap.Certificates[name] = rec
	}
	return snap
}

func TestCompareWithState(t *testing.T) {
	base := load(t, "base", baseHCL, testEnv)
	head := edit(t, baseHCL, "certs.hcl", `dns_names   = ["www.example.com"]`, `dns_names   = ["www.example.com", "example.com"]`)
	head = edit(t, head, "certs.hcl", `certificate "old" {`, `certificate "gone" {`)
	// Issued 80 days ago: with a 90-day validity every certificate is
	// already due for renewal, without this change.
	snap := appliedSnapshot(base.Config, t0.Add(-80*24*time.Hour))
	d := Compare(base, load(t, "head", head, testEnv), Options{Now: t0, Snapshot: snap})
	if d.Effect == nil {
		t.Fatal("Compare with a state has no Effect")
	}
	var got []string
	for _, ec := range d.Effect.Changes {
		got = append(got, fmt.Sprintf("%s %s %v", ec.Change.Action, ec.Change.Address, ec.Introduced))
	}
	// old has on_remove = "revoke", but a local CA cannot revoke yet:
	// the plan forgets it.
	want := []string{
		"renew certificate.api false",
		"notify certificate.api false",
		"create certificate.gone true",
		"renew certificate.legacy false",
		"notify certificate.legacy false",
		"revoke certificate.old true",
		"replace certificate.www true",
		"notify certificate.www false",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Effect.Changes = %q, want %q", got, want)
	}
	if d.Effect.Introduced != 3 {
		t.Errorf("Effect.Introduced = %d, want 3", d.Effect.Introduced)
	}
	if !slices.Contains(attentionKinds(d), "revoke_on_remove certificate.old") {
		t.Errorf("attention = %q, want the revoke of certificate.old", attentionKinds(d))
	}
	var b bytes.Buffer
	if err := NewView(reconcile.ViewOptions{Format: reconcile.FormatText}).Diff(&b, d); err != nil {
		t.Fatal(err)
	}
	golden(t, "state.txt.golden", b.Bytes())

	// Nothing changed in the configuration: the renewals due are not this
	// change's doing.
	same := Compare(base, load(t, "head", baseHCL, testEnv), Options{Now: t0, Snapshot: snap})
	if same.HasChanges() || same.Effect.Introduced != 0 || len(same.Effect.Changes) != 8 {
		t.Errorf("Compare(same, state) = HasChanges %v, %d introduced of %d; want false, 0 of 8", same.HasChanges(), same.Effect.Introduced, len(same.Effect.Changes))
	}
}

// compileSchema compiles schemas/NAME with every schema of the folder
// available to its references.
func compileSchema(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	dir := filepath.Join("..", "..", "schemas")
	files, err := filepath.Glob(filepath.Join(dir, "*.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := c.AddResource("https://github.com/certctl/certctl/schemas/"+filepath.Base(f), doc); err != nil {
			t.Fatal(err)
		}
	}
	sch, err := c.Compile("https://github.com/certctl/certctl/schemas/" + name)
	if err != nil {
		t.Fatalf("compiling %s: %v", name, err)
	}
	return sch
}

func TestJSONMatchesSchema(t *testing.T) {
	sch := compileSchema(t, "diff.schema.json")
	base := load(t, "base", baseHCL, testEnv)
	head := edit(t, baseHCL, "certs.hcl", `dns_names   = ["www.example.com"]`, `dns_names   = ["www.example.com", "*.example.com"]`)
	head = edit(t, head, "certs.hcl", `certificate "old" {`, `certificate "gone" {`)
	head = edit(t, head, "main.hcl", `validity        = "90d"`, `validity        = "397d"`)
	bad := with(baseHCL, "certs.hcl", strings.Replace(baseHCL["certs.hcl"], "issuer.internal", "issuer.intenral", 1))
	snap := appliedSnapshot(base.Config, t0.Add(-80*24*time.Hour))
	cases := map[string]*Diff{
		"config only": Compare(base, load(t, "head", head, testEnv), Options{Now: t0}),
		"with state":  Compare(base, load(t, "head", head, testEnv), Options{Now: t0, Snapshot: snap}),
		"no changes":  Compare(base, load(t, "head", baseHCL, testEnv), Options{Now: t0}),
		"bad head":    Compare(base, load(t, "head", bad, testEnv), Options{Now: t0, Path: "certs"}),
		"bad base":    Compare(load(t, "base", bad, testEnv), base, Options{Now: t0}),
	}
	for name, d := range cases {
		var b bytes.Buffer
		if err := NewView(reconcile.ViewOptions{Format: reconcile.FormatJSON}).Diff(&b, d); err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("diff -json (%s) does not match diff.schema.json: %v", name, err.(*jsonschema.ValidationError).DetailedOutput())
		}
		if name == "with state" {
			// The schema is strict enough to catch a wrong document.
			var doc map[string]any
			if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			doc["changes"].([]any)[0].(map[string]any)["op"] = "explode"
			if err := sch.Validate(doc); err == nil {
				t.Errorf("diff.schema.json accepts an unknown op")
			}
		}
	}
}
