package metrics

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/certctl/certctl/reconcile"
)

// TestEncodedMatchesExpfmt holds the view's own text encoder to what
// expfmt writes for the same families, byte for byte, including label
// values that need escaping and floats of every shape.
func TestEncodedMatchesExpfmt(t *testing.T) {
	cfg, snap := bigState(40)
	m := New("test")
	m.ObserveState(cfg, snap, t0)
	views := map[string]*stateView{"bigState(40)": m.view.Load()}

	odd := &stateView{
		certStatuses:   []count{{reconcile.StatusValid, 3}, {reconcile.StatusFailed, 0}},
		notifyStatuses: []count{{"dead", 1e21}},
		dead:           math.Inf(1),
		certs: []certSeries{
			{name: `q["a\"b"]`, issuer: `back\slash`, owner: "new\nline", team: "ünïcode", expires: 1.5, renews: math.NaN()},
			{name: "tiny", expires: 1e-9},
			{name: "never issued"},
			{name: "far", expires: unixSeconds(t0.AddDate(7000, 0, 0)), renews: -1},
		},
		deployments: []deployCount{{"", "current", 2}, {`we"b\1`, "failed", 1}},
	}
	views["odd values"] = odd
	views["empty"] = &stateView{}

	for what, v := range views {
		var want bytes.Buffer
		var wantNames []string
		for _, f := range v.families() {
			if _, err := expfmt.MetricFamilyToText(&want, f); err != nil {
				t.Fatal(err)
			}
			wantNames = append(wantNames, f.GetName())
		}
		var got bytes.Buffer
		var gotNames []string
		for _, ft := range v.encoded() {
			got.Write(ft.text)
			gotNames = append(gotNames, ft.name)
		}
		if got.String() != want.String() {
			t.Errorf("%s: encoded() =\n%s\nexpfmt writes\n%s", what, got.String(), want.String())
		}
		if strings.Join(gotNames, " ") != strings.Join(wantNames, " ") {
			t.Errorf("%s: encoded() families %q, want %q", what, gotNames, wantNames)
		}
		// And the parser reads it back.
		p := expfmt.NewTextParser(model.UTF8Validation)
		if _, err := p.TextToMetricFamilies(&got); err != nil {
			t.Errorf("%s: parsing encoded(): %v", what, err)
		}
	}
}

// certctl_deployments counts targets per agent and status, with a zero
// series for each status an agent has none of (for alerts on failed).
func TestDeploymentCounts(t *testing.T) {
	inv := []reconcile.CertStatus{
		{Name: "a", Status: reconcile.StatusValid, Deployments: []reconcile.DeploymentStatus{
			{Target: "local", Status: reconcile.DeploymentCurrent},
			{Target: "web1", Agent: "web1", Status: reconcile.DeploymentFailed},
		}},
		{Name: "b", Status: reconcile.StatusValid, Deployments: []reconcile.DeploymentStatus{
			{Target: "web1", Agent: "web1", Status: reconcile.DeploymentCurrent},
			{Target: "web2", Agent: "web2", Status: reconcile.DeploymentOutdated},
		}},
	}
	got := deployCounts(inv)
	want := []deployCount{
		{"", "current", 1}, {"", "failed", 0}, {"", "outdated", 0},
		{"web1", "current", 1}, {"web1", "failed", 1}, {"web1", "outdated", 0},
		{"web2", "current", 0}, {"web2", "failed", 0}, {"web2", "outdated", 1},
	}
	if !slices.Equal(got, want) {
		t.Errorf("deployCounts() = %v, want %v", got, want)
	}
}
