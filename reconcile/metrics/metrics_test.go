package metrics

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// t0 is the tests' clock: certificates are issued at t0 for 90 days.
var t0 = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

const testHCL = `
team "platform" {}
team "web" {}
owner "alice" {
  email = "alice@example.com"
  team  = team.platform
}
policy "standard" {
  validity      = "90d"
  renew_before  = "30d"
  key_algorithm = "ecdsa-p256"
  usages        = ["server_auth"]
}
issuer "local_ca" "internal" {
  common_name   = "Test Internal CA"
  validity      = "3650d"
  key_algorithm = "ecdsa-p256"
}
issuer "local_ca" "flaky" {
  common_name   = "Flaky CA"
  validity      = "3650d"
  key_algorithm = "ecdsa-p256"
}
target "file" "out" {
  dir = "out"
}
certificate "www" {
  common_name = "www.example.com"
  dns_names   = ["www.example.com"]
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
  targets     = [target.out]
}
certificate "sites" {
  for_each    = { api = "api.example.com", auth = "auth.example.com" }
  common_name = each.value
  dns_names   = [each.value]
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.web
  targets     = [target.out]
}
certificate "broken" {
  common_name = "broken.example.com"
  dns_names   = ["broken.example.com"]
  issuer      = issuer.flaky
  policy      = policy.standard
  owner       = owner.alice
  team        = team.web
}
`

// refusingIssuer stands in for a CA that is down.
type refusingIssuer struct{}

func (refusingIssuer) Issue(context.Context, pki.IssueRequest) (*pki.Issued, error) {
	return nil, errors.New("CA refused")
}

// env is a configuration applied with a real local CA to a real state
// store, with the metrics watching the apply, and a loopback server that
// serves them.
type env struct {
	t   *testing.T
	cfg *spec.Config
	db  *state.DB
	m   *Metrics
	url string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(testHCL), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, diags := spec.Load(dir)
	if diags.HasErrors() {
		t.Fatalf("spec.Load: %v", diags)
	}
	db, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{Key: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{t: t, cfg: cfg, db: db, m: New("v1.2.3-test")}
	srv := httptest.NewServer(e.m.Handler()) // 127.0.0.1
	t.Cleanup(srv.Close)
	e.url = srv.URL + "/metrics"
	return e
}

// apply plans and applies at now, observed by e.m; it returns Apply's error.
func (e *env) apply(now time.Time) error {
	e.t.Helper()
	ctx := context.Background()
	snap, err := e.db.Summary(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	obs, err := reconcile.Refresh(ctx, e.cfg, snap)
	if err != nil {
		e.t.Fatal(err)
	}
	_, err = reconcile.Apply(ctx, reconcile.Plan(e.cfg, snap, obs, now), e.cfg, reconcile.Deps{
		Store: e.db, Notifications: e.db, Now: func() time.Time { return now },
		Issuers: map[string]reconcile.Issuer{"flaky": refusingIssuer{}},
		Observe: e.m.ObserveIssuance,
		Exec:    func(context.Context, string, string) error { return nil },
	})
	return err
}

func (e *env) summary() *state.Snapshot {
	e.t.Helper()
	snap, err := e.db.Summary(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return snap
}

// enqueue stores one notification row per status given, created at t0.
func (e *env) enqueue(statuses ...string) []string {
	e.t.Helper()
	var ids []string
	for i, st := range statuses {
		id, err := state.NewNotificationID(t0.Add(time.Duration(i) * time.Second))
		if err != nil {
			e.t.Fatal(err)
		}
		row := &state.Notification{ID: id, Event: "certificate_issued", Certificate: "www", Notifier: "ops",
			CreatedAt: t0, Status: st, RetryCount: 5, LastError: "HTTP 500"}
		if err := e.db.EnqueueNotifications(context.Background(), row); err != nil {
			e.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// scrape GETs /metrics as Prometheus does (gzip) and parses the text.
func (e *env) scrape() map[string]*dto.MetricFamily {
	e.t.Helper()
	return e.scrapeAs("gzip")
}

// scrapeAs GETs /metrics with Accept-Encoding: enc and parses the text.
func (e *env) scrapeAs(enc string) map[string]*dto.MetricFamily {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", enc)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET /metrics: %s", resp.Status)
	}
	body := io.Reader(resp.Body)
	if got := resp.Header.Get("Content-Encoding"); got != enc && !(enc == "identity" && got == "") {
		e.t.Fatalf("GET /metrics with Accept-Encoding %s: Content-Encoding %q", enc, got)
	}
	if enc == "gzip" {
		gz, err := gzip.NewReader(resp.Body)
		if err != nil {
			e.t.Fatal(err)
		}
		body = gz
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		e.t.Fatalf("GET /metrics: Content-Type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(body)
	if err != nil {
		e.t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// series returns the value of each series of family name, keyed by its
// labels rendered as `k="v",...` in the order given; a histogram gives its
// sample count.
func series(fams map[string]*dto.MetricFamily, name string, labels ...string) map[string]float64 {
	out := map[string]float64{}
	f := fams[name]
	if f == nil {
		return nil
	}
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, lp := range m.Label {
			have[lp.GetName()] = lp.GetValue()
		}
		var key []string
		for _, l := range labels {
			key = append(key, fmt.Sprintf("%s=%q", l, have[l]))
		}
		var v float64
		switch {
		case m.Gauge != nil:
			v = m.Gauge.GetValue()
		case m.Counter != nil:
			v = m.Counter.GetValue()
		case m.Histogram != nil:
			v = float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			v = m.Untyped.GetValue()
		}
		out[strings.Join(key, ",")] = v
	}
	return out
}

func one(t *testing.T, fams map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	s := series(fams, name)
	if len(s) != 1 {
		t.Fatalf("%s: %d series, want 1", name, len(s))
	}
	return s[""]
}

func secs(tm time.Time) float64 { return float64(tm.Unix()) + float64(tm.Nanosecond())/1e9 }

// checkState compares what /metrics says with what certctl status and
// certctl show say of the same snapshot at now.
func (e *env) checkState(snap *state.Snapshot, now time.Time) map[string]*dto.MetricFamily {
	t := e.t
	t.Helper()
	fams := e.scrape()
	want := reconcile.Status(e.cfg, snap, now)

	gotCerts := series(fams, "certctl_certificates", "status")
	if len(gotCerts) != len(reconcile.CertStatuses()) {
		t.Errorf("certctl_certificates = %v, want one series per status %q", gotCerts, reconcile.CertStatuses())
	}
	for s, n := range want.Certificates.ByStatus {
		if got := gotCerts[fmt.Sprintf("status=%q", s)]; got != float64(n) {
			t.Errorf("certctl_certificates{status=%q} = %v, want %d as certctl status says", s, got, n)
		}
	}
	gotNotif := series(fams, "certctl_notifications", "status")
	for s, n := range want.Notifications.ByStatus {
		if got := gotNotif[fmt.Sprintf("status=%q", s)]; got != float64(n) {
			t.Errorf("certctl_notifications{status=%q} = %v, want %d", s, got, n)
		}
	}
	if got, want := one(t, fams, "certctl_notification_dead_total"), float64(want.Notifications.ByStatus[state.NotifyDead]); got != want {
		t.Errorf("certctl_notification_dead_total = %v, want %v (certctl status)", got, want)
	}
	if typ := fams["certctl_notification_dead_total"].GetType(); typ != dto.MetricType_GAUGE {
		t.Errorf("certctl_notification_dead_total is a %v, want a gauge", typ)
	}

	// Per certificate: exactly the configured ones that have a
	// certificate, with show's expiry and renewal times.
	wantExp, wantRenew := map[string]float64{}, map[string]float64{}
	for _, c := range reconcile.Inventory(e.cfg, snap, now) {
		if c.Status == reconcile.StatusOrphaned {
			continue
		}
		key := fmt.Sprintf("name=%q,issuer=%q,owner=%q,team=%q", c.Name, c.Issuer, c.Owner, c.Team)
		if !c.NotAfter.IsZero() {
			wantExp[key] = secs(c.NotAfter)
		}
		if !c.RenewsAt.IsZero() {
			wantRenew[key] = secs(c.RenewsAt)
		}
	}
	for name, want := range map[string]map[string]float64{
		"certctl_certificate_expiration_timestamp_seconds": wantExp,
		"certctl_certificate_renewal_timestamp_seconds":    wantRenew,
	} {
		got := series(fams, name, certLabels...)
		if len(got) != len(want) {
			t.Errorf("%s has %d series, want %d: %v", name, len(got), len(want), got)
		}
		for k, v := range want {
			if g, ok := got[k]; !ok || math.Abs(g-v) > 1e-3 {
				t.Errorf("%s{%s} = %v (present %v), want %v", name, k, g, ok, v)
			}
		}
	}
	return fams
}

func TestMetricsScrape(t *testing.T) {
	e := newEnv(t)

	// Before anything is observed: no state gauges, but the rest is there.
	fams := e.scrape()
	for _, name := range []string{"certctl_certificates", "certctl_notification_dead_total", "certctl_certificate_expiration_timestamp_seconds"} {
		if fams[name] != nil {
			t.Errorf("%s present before the first ObserveState", name)
		}
	}
	if got := series(fams, "certctl_build_info", "version"); got[`version="v1.2.3-test"`] != 1 {
		t.Errorf("certctl_build_info = %v", got)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "certctl_reconcile_last_success_timestamp_seconds"} {
		if fams[name] == nil {
			t.Errorf("%s missing", name)
		}
	}
	if got := series(fams, "certctl_reconcile_total", "result"); len(got) != 2 || got[`result="error"`] != 0 {
		t.Errorf("certctl_reconcile_total = %v, want success and error at 0", got)
	}

	// One pass: the CAs and four certificates; broken's CA refuses.
	start := time.Now()
	err := e.apply(t0)
	if err == nil || !strings.Contains(err.Error(), "CA refused") {
		t.Fatalf("apply: %v, want broken's failure", err)
	}
	e.enqueue(state.NotifyDead, state.NotifyDead, state.NotifyFailed, state.NotifySent)
	snap := e.summary()
	e.m.ObserveState(e.cfg, snap, t0)
	e.m.ObserveReconcile(Pass{Start: start, Duration: 1500 * time.Millisecond, Revision: "abc123", Author: "Alice <alice@example.com>", Err: err})
	fams = e.checkState(snap, t0)

	if r := reconcile.Status(e.cfg, snap, t0); r.Certificates.ByStatus[reconcile.StatusValid] != 3 ||
		r.Certificates.ByStatus[reconcile.StatusFailed] != 1 || r.Notifications.ByStatus[state.NotifyDead] != 2 {
		t.Errorf("the test's state is not what it means to set up: %+v", r)
	}
	if got := one(t, fams, "certctl_notification_dead_total"); got != 2 {
		t.Errorf("certctl_notification_dead_total = %v, want the 2 dead rows", got)
	}
	// broken has no certificate: no expiry series for it.
	for k := range series(fams, "certctl_certificate_expiration_timestamp_seconds", "name") {
		if k == `name="broken"` {
			t.Errorf("broken, never issued, has an expiration series")
		}
	}
	// The for_each names keep their quotes through the text format.
	if _, ok := series(fams, "certctl_certificate_expiration_timestamp_seconds", "name")[`name="sites[\"api\"]"`]; !ok {
		t.Errorf(`no expiration series for sites["api"]`)
	}

	issued := series(fams, "certctl_issuance_total", "issuer", "action", "result")
	for k, want := range map[string]float64{
		`issuer="internal",action="create",result="success"`: 3,
		`issuer="internal",action="create",result="error"`:   0,
		`issuer="flaky",action="create",result="error"`:      1,
		`issuer="flaky",action="renew",result="error"`:       0,
	} {
		if got, ok := issued[k]; !ok || got != want {
			t.Errorf("certctl_issuance_total{%s} = %v (present %v), want %v", k, got, ok, want)
		}
	}
	if got := series(fams, "certctl_issuance_duration_seconds", "issuer", "action"); got[`issuer="internal",action="create"`] != 3 || got[`issuer="flaky",action="create"`] != 1 {
		t.Errorf("certctl_issuance_duration_seconds counts = %v, want 3 internal and 1 flaky creates", got)
	}
	if got := fams["certctl_issuance_duration_seconds"].GetType(); got != dto.MetricType_HISTOGRAM {
		t.Errorf("certctl_issuance_duration_seconds is a %v", got)
	}

	// The failed pass: counted, no last success, its revision shown.
	if got := series(fams, "certctl_reconcile_total", "result"); got[`result="error"`] != 1 || got[`result="success"`] != 0 {
		t.Errorf("certctl_reconcile_total = %v, want 1 error", got)
	}
	if got := one(t, fams, "certctl_reconcile_last_success_timestamp_seconds"); got != 0 {
		t.Errorf("last success = %v after a failed pass, want 0", got)
	}
	if got := series(fams, "certctl_source_info", "revision", "author"); len(got) != 1 || got[`revision="abc123",author="Alice <alice@example.com>"`] != 1 {
		t.Errorf("certctl_source_info = %v", got)
	}
	if h := fams["certctl_reconcile_duration_seconds"].GetMetric()[0].GetHistogram(); h.GetSampleCount() != 1 || h.GetSampleSum() != 1.5 {
		t.Errorf("reconcile duration = %d samples, sum %v; want 1, 1.5", h.GetSampleCount(), h.GetSampleSum())
	}

	// A dead row revived by certctl requeue lowers the gauge.
	if _, err := e.db.RequeueAllDead(context.Background()); err != nil {
		t.Fatal(err)
	}
	snap = e.summary()
	e.m.ObserveState(e.cfg, snap, t0)
	e.m.ObserveReconcile(Pass{Start: t0, Duration: 2 * time.Second, Revision: "def456", Author: "Bob"})
	fams = e.checkState(snap, t0)
	if got := one(t, fams, "certctl_notification_dead_total"); got != 0 {
		t.Errorf("certctl_notification_dead_total = %v after requeue, want 0", got)
	}
	if got := one(t, fams, "certctl_reconcile_last_success_timestamp_seconds"); got != secs(t0.Add(2*time.Second)) {
		t.Errorf("last success = %v, want the end of the pass, %v", got, secs(t0.Add(2*time.Second)))
	}
	if got := series(fams, "certctl_source_info", "revision", "author"); len(got) != 1 || got[`revision="def456",author="Bob"`] != 1 {
		t.Errorf("certctl_source_info = %v, want only the new revision", got)
	}
	// A pass that knows no revision leaves it.
	e.m.ObserveReconcile(Pass{Start: t0, Duration: time.Second, Err: errors.New("git fetch failed")})
	if got := series(e.scrape(), "certctl_source_info", "revision"); len(got) != 1 || got[`revision="def456"`] != 1 {
		t.Errorf("certctl_source_info = %v after a pass without a revision", got)
	}
}

// TestMetricsStateChanges moves the clock and the config: statuses follow
// certctl status, and a certificate that left the config loses its series.
func TestMetricsStateChanges(t *testing.T) {
	e := newEnv(t)
	if err := e.apply(t0); err == nil {
		t.Fatal("apply: want broken's failure")
	}
	snap := e.summary()
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{t0.Add(70 * 24 * time.Hour), reconcile.StatusRenewalDue},
		{t0.Add(91 * 24 * time.Hour), reconcile.StatusExpired},
	} {
		e.m.ObserveState(e.cfg, snap, tc.at)
		fams := e.checkState(snap, tc.at)
		if got := series(fams, "certctl_certificates", "status")[fmt.Sprintf("status=%q", tc.want)]; got != 3 {
			t.Errorf("at %v: certctl_certificates{status=%q} = %v, want 3", tc.at, tc.want, got)
		}
	}

	delete(e.cfg.Certificates, "www")
	e.m.ObserveState(e.cfg, snap, t0)
	fams := e.checkState(snap, t0)
	if got := series(fams, "certctl_certificates", "status")[fmt.Sprintf("status=%q", reconcile.StatusOrphaned)]; got != 1 {
		t.Errorf("certctl_certificates{orphaned} = %v, want 1 (www)", got)
	}
	for k := range series(fams, "certctl_certificate_expiration_timestamp_seconds", "name") {
		if k == `name="www"` {
			t.Errorf("www left the config but still has an expiration series")
		}
	}

	// A nil config: everything recorded is orphaned, no series remain.
	e.m.ObserveState(nil, snap, t0)
	fams = e.scrape()
	if got := series(fams, "certctl_certificate_expiration_timestamp_seconds"); len(got) != 0 {
		t.Errorf("expiration series without a config: %v", got)
	}
	if got := series(fams, "certctl_certificates", "status")[fmt.Sprintf("status=%q", reconcile.StatusOrphaned)]; got != 4 {
		t.Errorf("certctl_certificates{orphaned} = %v without a config, want the 4 recorded", got)
	}
}

func TestUnixSeconds(t *testing.T) {
	for _, tc := range []struct {
		in   time.Time
		want float64
	}{
		{time.Time{}, 0},
		{time.Unix(1700000000, 500_000_000), 1700000000.5},
		{time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), 253402300799},
	} {
		if got := unixSeconds(tc.in); got != tc.want {
			t.Errorf("unixSeconds(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// flatten renders each certctl_ series as `name{labels} value`, the
// labels sorted, so that two expositions compare regardless of order.
func flatten(fams map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for name, f := range fams {
		if !strings.HasPrefix(name, "certctl_") {
			continue
		}
		for _, m := range f.Metric {
			var ls []string
			for _, lp := range m.Label {
				ls = append(ls, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
			}
			slices.Sort(ls)
			key := name + "{" + strings.Join(ls, ",") + "}"
			switch {
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Histogram != nil:
				out[key+"count"] = float64(m.Histogram.GetSampleCount())
				out[key+"sum"] = m.Histogram.GetSampleSum()
			}
		}
	}
	return out
}

// TestHandlerMatchesGatherer: the handler's text, plain or gzipped, says
// what the Gatherer says, series for series.
func TestHandlerMatchesGatherer(t *testing.T) {
	e := newEnv(t)
	_ = e.apply(t0) // broken fails: both results are counted
	e.enqueue(state.NotifyDead, state.NotifyPending)
	e.m.ObserveState(e.cfg, e.summary(), t0)
	e.m.ObserveReconcile(Pass{Start: t0, Duration: time.Second, Revision: "abc", Author: "Alice"})

	gathered, err := e.m.Gatherer().Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range gathered {
		byName[f.GetName()] = f
	}
	want := flatten(byName)
	if len(want) < 20 {
		t.Fatalf("the Gatherer gives only %d certctl series: %v", len(want), want)
	}
	for _, enc := range []string{"identity", "gzip"} {
		if diff := cmp.Diff(want, flatten(e.scrapeAs(enc))); diff != "" {
			t.Errorf("GET /metrics (%s) differs from Gather (-gather +served):\n%s", enc, diff)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"identity", false},
		{"deflate, gzip;q=0.5", true},
		{"GZIP", true},
		{"gzip;q=0", false},
		{"gzip; q=0.0, identity", false},
		{"x-gzip", false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		r.Header.Set("Accept-Encoding", tc.header)
		if got := acceptsGzip(r); got != tc.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

// TestConcurrentObserveAndScrape runs passes and scrapes at once; under
// -race it checks that views are shared safely. Every scrape must parse
// and show one whole view: as many expiration series as certificates.
func TestConcurrentObserveAndScrape(t *testing.T) {
	cfg, snap := bigState(200)
	m := New("test")
	m.ObserveState(cfg, snap, t0)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	e := &env{t: t, m: m, url: srv.URL + "/metrics"}

	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 50 {
			m.ObserveState(cfg, snap, t0.Add(time.Duration(i)*time.Hour))
			m.ObserveIssuance(reconcile.Outcome{Name: "x", Issuer: "internal", Action: reconcile.ActionRenew, Duration: time.Millisecond})
			m.ObserveReconcile(Pass{Start: t0, Duration: time.Second, Revision: fmt.Sprint(i)})
		}
	}()
	for range 10 {
		if got := len(series(e.scrapeAs("identity"), "certctl_certificate_expiration_timestamp_seconds", "name")); got != 200 {
			t.Errorf("a scrape during passes shows %d expiration series, want 200", got)
		}
	}
	<-done
}
