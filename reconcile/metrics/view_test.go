package metrics

import (
	"bytes"
	"math"
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
