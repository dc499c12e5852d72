package metrics

import (
	"bytes"
	"slices"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/state"
)

// The state gauges. They are not on the registry: a registry's Gather
// makes, checks and sorts one object per series on every scrape, some
// 100 ms over 10,000 certificates, for values that change once a pass.
// The handler writes them as text encoded once per stored view instead.
const (
	nameCertificates  = ns + "_certificates"
	nameExpiration    = ns + "_certificate_expiration_timestamp_seconds"
	nameRenewal       = ns + "_certificate_renewal_timestamp_seconds"
	nameNotifications = ns + "_notifications"
	nameDead          = ns + "_notification_dead_total"
)

var certLabels = []string{"name", "issuer", "owner", "team"}

// stateView is what ObserveState stores: the state gauges' values, never
// changed once stored, so that scrapes read it without a lock while the
// next ObserveState builds another.
type stateView struct {
	certStatuses, notifyStatuses []count
	certs                        []certSeries // sorted by name
	dead                         float64

	encodeOnce sync.Once
	text       []familyText
}

type count struct {
	status string
	n      float64
}

// certSeries is one configured certificate's labels and timestamps (Unix
// seconds; 0 for none). The strings share the inventory's memory.
type certSeries struct {
	name, issuer, owner, team string
	expires, renews           float64
}

// familyText is one metric family in the text format, HELP and TYPE
// lines included.
type familyText struct {
	name string
	text []byte
}

func newStateView(inv []reconcile.CertStatus, r reconcile.StatusReport) *stateView {
	v := &stateView{}
	for _, s := range reconcile.CertStatuses() {
		v.certStatuses = append(v.certStatuses, count{s, float64(r.Certificates.ByStatus[s])})
	}
	for _, s := range state.NotifyStatuses() {
		v.notifyStatuses = append(v.notifyStatuses, count{s, float64(r.Notifications.ByStatus[s])})
	}
	v.dead = float64(r.Notifications.ByStatus[state.NotifyDead])
	v.certs = make([]certSeries, 0, len(inv)-r.Certificates.ByStatus[reconcile.StatusOrphaned])
	for i := range inv {
		c := &inv[i]
		if c.Status == reconcile.StatusOrphaned {
			continue
		}
		v.certs = append(v.certs, certSeries{
			name: c.Name, issuer: c.Issuer, owner: c.Owner, team: c.Team,
			expires: unixSeconds(c.NotAfter), renews: unixSeconds(c.RenewsAt),
		})
	}
	return v
}

// families returns the state gauges as new metric families, sorted by
// name; families without series are left out.
func (v *stateView) families() []*dto.MetricFamily {
	gauge := dto.MetricType_GAUGE
	family := func(name, help string) *dto.MetricFamily {
		return &dto.MetricFamily{Name: &name, Help: &help, Type: &gauge}
	}
	sample := func(val float64, labels ...string) *dto.Metric {
		m := &dto.Metric{Gauge: &dto.Gauge{Value: &val}}
		for i := 0; i < len(labels); i += 2 {
			m.Label = append(m.Label, &dto.LabelPair{Name: &labels[i], Value: &labels[i+1]})
		}
		return m
	}
	byStatus := func(f *dto.MetricFamily, counts []count) *dto.MetricFamily {
		for _, c := range counts {
			f.Metric = append(f.Metric, sample(c.n, "status", c.status))
		}
		return f
	}
	exp := family(nameExpiration, "When the current certificate expires (its not after), in Unix seconds.")
	ren := family(nameRenewal, "When the current certificate is due for renewal, in Unix seconds.")
	for _, c := range v.certs {
		// Label pairs sorted by name, as a registry would give them.
		labels := []string{"issuer", c.issuer, "name", c.name, "owner", c.owner, "team", c.team}
		if c.expires != 0 {
			exp.Metric = append(exp.Metric, sample(c.expires, labels...))
		}
		if c.renews != 0 {
			ren.Metric = append(ren.Metric, sample(c.renews, labels...))
		}
	}
	fams := []*dto.MetricFamily{
		byStatus(family(nameCertificates, "Certificates by status, as `certctl status` counts them."), v.certStatuses),
		exp, ren,
		byStatus(family(nameNotifications, "Notification rows by status."), v.notifyStatuses),
		{Name: new(nameDead), Type: &gauge, Metric: []*dto.Metric{sample(v.dead)},
			Help: new("Dead notification rows now, as certctl status counts them: a gauge despite its name, which certctl requeue lowers.")},
	}
	fams = slices.DeleteFunc(fams, func(f *dto.MetricFamily) bool { return len(f.Metric) == 0 })
	slices.SortFunc(fams, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return fams
}

// encoded returns the state gauges in the text format, one entry per
// family, sorted by name. The first call encodes them; later calls, from
// any goroutine, share the result.
func (v *stateView) encoded() []familyText {
	v.encodeOnce.Do(func() {
		var buf bytes.Buffer
		for _, f := range v.families() {
			buf.Reset()
			// A bytes.Buffer does not fail, and the values are valid.
			_, _ = expfmt.MetricFamilyToText(&buf, f)
			v.text = append(v.text, familyText{name: f.GetName(), text: bytes.Clone(buf.Bytes())})
		}
	})
	return v.text
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	// Not UnixNano: it overflows after 2262, and a certificate may say
	// 9999-12-31 (RFC 5280's "no well-defined expiration").
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}
