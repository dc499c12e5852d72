package metrics

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"

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
	nameDeployments   = ns + "_deployments"
)

const (
	helpCertificates  = "Certificates by status, as `certctl status` counts them."
	helpExpiration    = "When the current certificate expires (its not after), in Unix seconds."
	helpRenewal       = "When the current certificate is due for renewal, in Unix seconds."
	helpNotifications = "Notification rows by status."
	helpDead          = "Dead notification rows now, as certctl status counts them: a gauge despite its name, which certctl requeue lowers."
	helpDeployments   = "Certificates' targets by the host that deploys them (agent; empty for the certctl host) and status: current, outdated or failed (the last deployment failed and was rolled back)."
)

var certLabels = []string{"name", "issuer", "owner", "team"}

// stateView is what ObserveState stores: the state gauges' values, never
// changed once stored, so that scrapes read it without a lock while the
// next ObserveState builds another.
type stateView struct {
	certStatuses, notifyStatuses []count
	certs                        []certSeries // sorted by name
	dead                         float64
	// deployments counts targets by agent and status: every status for
	// each agent that has a target, sorted.
	deployments []deployCount

	encodeOnce sync.Once
	text       []familyText
}

type count struct {
	status string
	n      float64
}

type deployCount struct {
	agent, status string
	n             float64
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
	v.deployments = deployCounts(inv)
	return v
}

// deployCounts counts the configured certificates' targets by agent and
// deployment status.
func deployCounts(inv []reconcile.CertStatus) []deployCount {
	n := map[[2]string]int{}
	seen := map[string]bool{}
	var agents []string
	for i := range inv {
		for _, d := range inv[i].Deployments {
			if !seen[d.Agent] {
				seen[d.Agent] = true
				agents = append(agents, d.Agent)
			}
			n[[2]string{d.Agent, d.Status}]++
		}
	}
	slices.Sort(agents)
	var out []deployCount
	for _, a := range agents {
		for _, s := range reconcile.DeploymentStatuses() {
			out = append(out, deployCount{a, s, float64(n[[2]string{a, s}])})
		}
	}
	return out
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
	exp := family(nameExpiration, helpExpiration)
	ren := family(nameRenewal, helpRenewal)
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
	deps := family(nameDeployments, helpDeployments)
	for _, d := range v.deployments {
		deps.Metric = append(deps.Metric, sample(d.n, "agent", d.agent, "status", d.status))
	}
	fams := []*dto.MetricFamily{
		deps,
		byStatus(family(nameCertificates, helpCertificates), v.certStatuses),
		exp, ren,
		byStatus(family(nameNotifications, helpNotifications), v.notifyStatuses),
		{Name: new(nameDead), Help: new(helpDead), Type: &gauge, Metric: []*dto.Metric{sample(v.dead)}},
	}
	fams = slices.DeleteFunc(fams, func(f *dto.MetricFamily) bool { return len(f.Metric) == 0 })
	slices.SortFunc(fams, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return fams
}

// encoded returns the state gauges in the text format, one entry per
// family, sorted by name. The first call encodes them; later calls, from
// any goroutine, share the result.
//
// It writes the text itself rather than through families() and
// expfmt.MetricFamilyToText, which allocate some twenty objects per
// certificate (24 ms and 18 MB over 10,000; this takes a few ms and the
// text's size). TestEncodedMatchesExpfmt holds the two to the same bytes.
func (v *stateView) encoded() []familyText {
	v.encodeOnce.Do(func() {
		// About 140 bytes per certificate and family.
		buf := make([]byte, 0, 300*len(v.certs)+4096)
		add := func(name, help string, write func()) {
			start := len(buf)
			buf = appendHeader(buf, name, help)
			before := len(buf)
			write()
			if len(buf) == before { // no series: no family
				buf = buf[:start]
				return
			}
			v.text = append(v.text, familyText{name: name, text: buf[start:len(buf):len(buf)]})
		}
		byStatus := func(name string, counts []count) func() {
			return func() {
				for _, c := range counts {
					buf = appendSample(buf, name, c.n, "status", c.status)
				}
			}
		}
		perCert := func(name string, value func(*certSeries) float64) func() {
			return func() {
				for i := range v.certs {
					c := &v.certs[i]
					if x := value(c); x != 0 {
						buf = appendSample(buf, name, x, "issuer", c.issuer, "name", c.name, "owner", c.owner, "team", c.team)
					}
				}
			}
		}
		// In name order.
		add(nameExpiration, helpExpiration, perCert(nameExpiration, func(c *certSeries) float64 { return c.expires }))
		add(nameRenewal, helpRenewal, perCert(nameRenewal, func(c *certSeries) float64 { return c.renews }))
		add(nameCertificates, helpCertificates, byStatus(nameCertificates, v.certStatuses))
		add(nameDeployments, helpDeployments, func() {
			for _, d := range v.deployments {
				buf = appendSample(buf, nameDeployments, d.n, "agent", d.agent, "status", d.status)
			}
		})
		add(nameDead, helpDead, func() { buf = appendSample(buf, nameDead, v.dead) })
		add(nameNotifications, helpNotifications, byStatus(nameNotifications, v.notifyStatuses))
	})
	return v.text
}

// appendHeader appends a gauge family's HELP and TYPE lines. The help
// texts are constants with nothing to escape.
func appendHeader(buf []byte, name, help string) []byte {
	buf = append(buf, "# HELP "...)
	buf = append(buf, name...)
	buf = append(buf, ' ')
	buf = append(buf, help...)
	buf = append(buf, "\n# TYPE "...)
	buf = append(buf, name...)
	return append(buf, " gauge\n"...)
}

// appendSample appends `name{l1="v1",...} value` and a newline; labels
// are name, value pairs, already sorted by name.
func appendSample(buf []byte, name string, val float64, labels ...string) []byte {
	buf = append(buf, name...)
	for i := 0; i < len(labels); i += 2 {
		if i == 0 {
			buf = append(buf, '{')
		} else {
			buf = append(buf, ',')
		}
		buf = append(buf, labels[i]...)
		buf = append(buf, '=', '"')
		buf = appendEscaped(buf, labels[i+1])
		buf = append(buf, '"')
	}
	if len(labels) > 0 {
		buf = append(buf, '}')
	}
	buf = append(buf, ' ')
	// The text format's float: what expfmt writes (NaN, +Inf, -Inf, or
	// the shortest 'g' form).
	buf = strconv.AppendFloat(buf, val, 'g', -1, 64)
	return append(buf, '\n')
}

// appendEscaped appends a label value escaped for the text format:
// backslash, double quote and newline.
func appendEscaped(buf []byte, s string) []byte {
	if !strings.ContainsAny(s, "\\\"\n") {
		return append(buf, s...)
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			buf = append(buf, '\\', '\\')
		case '"':
			buf = append(buf, '\\', '"')
		case '\n':
			buf = append(buf, '\\', 'n')
		default:
			buf = append(buf, s[i])
		}
	}
	return buf
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	// Not UnixNano: it overflows after 2262, and a certificate may say
	// 9999-12-31 (RFC 5280's "no well-defined expiration").
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}
