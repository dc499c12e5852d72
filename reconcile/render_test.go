package reconcile

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// golden compares got with testdata/NAME, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test -update if the change is intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// richPlan has every action and both kinds of note.
func richPlan(t *testing.T) (*spec.Config, *state.Snapshot, *ActionPlan) {
	cfg := testConfig("/srv/certctl")
	snap := appliedSnapshot(cfg)
	obs := observedAll(cfg)

	cfg.Issuers["edge"] = &spec.Issuer{Type: "local_ca", Name: "edge", CommonName: "Edge CA"}
	cfg.Certificates["shop"] = &spec.Certificate{
		Name: "shop", Label: "shop", CommonName: "shop.example.com", DNSNames: []string{"shop.example.com"},
		Issuer: "edge", Policy: "standard", Owner: "bob", Team: "web", Targets: []string{"local"},
		KeyAlgorithm: "ecdsa-p256", Validity: 90 * 24 * time.Hour,
	}
	www := cfg.Certificates["www"]
	www.DNSNames = append(www.DNSNames, "shop.example.com|x")
	www.Owner = "bob"
	cfg.Certificates[`sites["api"]`].Labels = map[string]string{"tier": "edge"}
	renew := snap.Certificates["mail"]
	renew.NotBefore, renew.NotAfter = t0.Add(-80*24*time.Hour), t0.Add(10*24*time.Hour)
	snap.Certificates["old"] = &state.Certificate{Name: "old", Fingerprint: fakeFP("old", 1), Status: state.StatusIssued, Serial: "2a", NotAfter: na}
	obs[`sites["api"]`]["local"] = "changed"
	delete(snap.Certificates[`sites["api"]`].Deployments, "web1")
	cfg.Certificates["flaky"] = &spec.Certificate{
		Name: "flaky", Label: "flaky", CommonName: "flaky.example.com", Issuer: "internal", Policy: "standard",
		Owner: "alice", Team: "platform", KeyAlgorithm: "ecdsa-p256", Validity: 90 * 24 * time.Hour,
	}
	snap.Certificates["flaky"] = &state.Certificate{Name: "flaky", Status: state.StatusFailed, Owner: "alice", Team: "platform", Issuer: "internal",
		LastError: "issuing certificate.flaky: CA unreachable", Failures: 3, FailedAt: t0.Add(-time.Hour), NextAttemptAt: t0.Add(40 * time.Minute)}
	addNotifications(cfg, snap)
	return cfg, snap, Plan(cfg, snap, obs, t0)
}

func render(t *testing.T, f func(*bytes.Buffer) error) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := f(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestPlanViewsGolden(t *testing.T) {
	_, _, p := richPlan(t)
	if p.Summary != (Summary{Create: 2, Renew: 1, Replace: 1, Update: 1, Deploy: 1, Forget: 1, Notify: 1}) {
		t.Fatalf("richPlan summary = %+v; the golden plan should have every action", p.Summary)
	}
	cfg := testConfig("/srv/certctl")
	empty := Plan(cfg, appliedSnapshot(cfg), observedAll(cfg), t0)

	for _, tt := range []struct {
		file string
		opts ViewOptions
		plan *ActionPlan
	}{
		{"plan.txt.golden", ViewOptions{Format: FormatText}, p},
		{"plan.color.txt.golden", ViewOptions{Format: FormatText, Color: true}, p},
		{"plan.json.golden", ViewOptions{Format: FormatJSON}, p},
		{"plan.md.golden", ViewOptions{Format: FormatMarkdown}, p},
		{"nochange.txt.golden", ViewOptions{Format: FormatText}, empty},
		{"nochange.json.golden", ViewOptions{Format: FormatJSON}, empty},
		{"nochange.md.golden", ViewOptions{Format: FormatMarkdown}, empty},
	} {
		t.Run(tt.file, func(t *testing.T) {
			golden(t, tt.file, render(t, func(b *bytes.Buffer) error { return NewPlanView(tt.opts).Plan(b, tt.plan) }))
		})
	}
}

func TestNoChangesText(t *testing.T) {
	cfg := testConfig("/srv/certctl")
	p := Plan(cfg, appliedSnapshot(cfg), nil, t0)
	got := string(render(t, func(b *bytes.Buffer) error { return NewPlanView(ViewOptions{}).Plan(b, p) }))
	if got != "No changes. Certificates match the configuration.\n" {
		t.Errorf("text view of an empty plan = %q", got)
	}
}

func TestSummaryLine(t *testing.T) {
	got := Summary{Create: 3, Deploy: 1}.SummaryLine()
	want := "Plan: 3 to create, 0 to renew, 0 to replace, 0 to update, 1 to deploy, 0 to forget."
	if got != want {
		t.Errorf("SummaryLine() = %q, want %q", got, want)
	}
}

func testInventory(t *testing.T) []CertStatus {
	cfg, snap, _ := richPlan(t)
	snap.Certificates["mail"].Status = state.StatusIssued
	return Inventory(cfg, snap, t0)
}

func TestInventory(t *testing.T) {
	got := map[string]string{}
	for _, s := range testInventory(t) {
		got[s.Name] = s.Status
	}
	want := map[string]string{
		"flaky": StatusFailed, "mail": StatusRenewalDue, "old": StatusOrphaned, "shop": StatusNotIssued,
		`sites["api"]`: StatusValid, "www": StatusValid,
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("Inventory()[%s].Status = %q, want %q", name, got[name], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Inventory() has %d certificates, want %d", len(got), len(want))
	}
	cfg := testConfig("/a")
	if s := Inventory(cfg, appliedSnapshot(cfg), na); s[0].Status != StatusExpired {
		t.Errorf("Inventory(at not_after)[0].Status = %q, want expired", s[0].Status)
	}
}

func TestShowViewsGolden(t *testing.T) {
	inv := testInventory(t)
	for _, tt := range []struct {
		file string
		opts ViewOptions
	}{
		{"show.txt.golden", ViewOptions{Format: FormatText}},
		{"show.json.golden", ViewOptions{Format: FormatJSON}},
		{"show.md.golden", ViewOptions{Format: FormatMarkdown}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			golden(t, tt.file, render(t, func(b *bytes.Buffer) error { return NewShowView(tt.opts).Show(b, inv) }))
		})
	}
}

func TestApplyViewGolden(t *testing.T) {
	r := &Result{Created: 3, Deployed: 1, Failed: 1, Errors: []*ChangeError{{
		Address: "certificate.bad", Action: ActionCreate, Err: errorString("issuing certificate.bad: CA said no\nsecond line"),
	}}}
	r.Delivery = testDelivery()
	golden(t, "apply.txt.golden", render(t, func(b *bytes.Buffer) error { return NewApplyView(ViewOptions{}).Result(b, r) }))
	golden(t, "apply.json.golden", render(t, func(b *bytes.Buffer) error { return NewApplyView(ViewOptions{Format: FormatJSON}).Result(b, r) }))
	want := "Apply complete: 3 created, 0 renewed, 0 replaced, 0 updated, 1 deployed, 0 forgotten, 1 failed."
	if r.String() != want {
		t.Errorf("Result.String() = %q, want %q", r.String(), want)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

func compileSchema(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(filepath.Join("..", "schemas", name))
	if err != nil {
		t.Fatalf("compiling %s: %v", name, err)
	}
	return sch
}

func validate(t *testing.T, sch *jsonschema.Schema, doc []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	return sch.Validate(inst)
}

func TestJSONMatchesSchemas(t *testing.T) {
	plan := compileSchema(t, "plan.schema.json")
	show := compileSchema(t, "show.schema.json")
	json := ViewOptions{Format: FormatJSON}

	_, _, p := richPlan(t)
	cfg := testConfig("/a")
	empty := Plan(cfg, nil, nil, t0)
	nothing := Plan(cfg, appliedSnapshot(cfg), nil, t0)
	for name, pl := range map[string]*ActionPlan{"rich": p, "from empty state": empty, "no changes": nothing} {
		doc := render(t, func(b *bytes.Buffer) error { return NewPlanView(json).Plan(b, pl) })
		if err := validate(t, plan, doc); err != nil {
			t.Errorf("plan -json (%s) does not match plan.schema.json: %v", name, err)
		}
		saved := render(t, func(b *bytes.Buffer) error { return EncodePlan(b, pl) })
		if err := validate(t, plan, saved); err != nil {
			t.Errorf("saved plan (%s) does not match plan.schema.json: %v", name, err)
		}
	}
	doc := render(t, func(b *bytes.Buffer) error { return NewShowView(json).Show(b, testInventory(t)) })
	if err := validate(t, show, doc); err != nil {
		t.Errorf("show -json does not match show.schema.json: %v", err)
	}
	doc = render(t, func(b *bytes.Buffer) error { return NewShowView(json).Show(b, nil) })
	if err := validate(t, show, doc); err != nil {
		t.Errorf("show -json (empty) does not match show.schema.json: %v", err)
	}

	// The schemas are strict enough to catch a wrong document.
	bad := render(t, func(b *bytes.Buffer) error { return NewPlanView(json).Plan(b, p) })
	bad = bytes.Replace(bad, []byte(`"action": "deploy"`), []byte(`"action": "explode"`), 1)
	if err := validate(t, plan, bad); err == nil {
		t.Errorf("plan.schema.json accepts an unknown action")
	}
	badShow := []byte(`{"format_version":"1.0","certificates":[{"name":"x","address":"certificate.x","status":"fine"}]}`)
	if err := validate(t, show, badShow); err == nil {
		t.Errorf("show.schema.json accepts an unknown status")
	}
}

func TestSavedPlanRoundTrip(t *testing.T) {
	_, snap, p := richPlan(t)
	path := filepath.Join(t.TempDir(), "plan.out")
	if err := WritePlanFile(path, p); err != nil {
		t.Fatal(err)
	}
	got, err := ReadPlanFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a := render(t, func(b *bytes.Buffer) error { return EncodePlan(b, p) })
	b := render(t, func(b *bytes.Buffer) error { return EncodePlan(b, got) })
	if !bytes.Equal(a, b) {
		t.Errorf("ReadPlanFile(WritePlanFile(p)) differs from p:\n%s\n%s", a, b)
	}
	if got.Summary != p.Summary {
		t.Errorf("ReadPlanFile().Summary = %+v, want %+v", got.Summary, p.Summary)
	}
	if err := got.CheckFresh(snap, p.ConfigDigest); err != nil {
		t.Errorf("CheckFresh(same state) = %v", err)
	}

	moved := *snap
	moved.Serial = 6
	err = got.CheckFresh(&moved, p.ConfigDigest)
	want := "saved plan is stale: the state changed since it was made (serial 4, now 6); run certctl plan again"
	if err == nil || err.Error() != want {
		t.Errorf("CheckFresh(serial 6) = %v, want %q", err, want)
	}
	err = got.CheckFresh(snap, "other")
	want = "saved plan is stale: the configuration changed since it was made; run certctl plan again"
	if err == nil || err.Error() != want {
		t.Errorf("CheckFresh(other config) = %v, want %q", err, want)
	}
	other := *snap
	other.Lineage = "ffff"
	if err := got.CheckFresh(&other, p.ConfigDigest); err == nil || !strings.Contains(err.Error(), "another state") {
		t.Errorf("CheckFresh(other lineage) = %v", err)
	}

	if _, err := DecodePlan(strings.NewReader(`{"format_version":"2.0"}`)); err == nil {
		t.Errorf("DecodePlan accepts format_version 2.0")
	}
	if _, err := DecodePlan(strings.NewReader(`{"format_version":"1.0","changes":[{"address":"certificate.x","name":"x","action":"explode"}]}`)); err == nil {
		t.Errorf("DecodePlan accepts an unknown action")
	}
}
