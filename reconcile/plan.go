package reconcile

import (
	"cmp"
	"crypto/x509"
	"encoding/pem"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// IssuerTypeLocalCA is the issuer type whose root certctl creates and keeps
// in the state.
const IssuerTypeLocalCA = spec.IssuerTypeLocalCA

// Observed is what Refresh read from local file targets: certificate name →
// target name → digest of the files found there ("" when a file is
// missing). A nil Observed, or a missing entry, means "not observed": Plan
// then makes no drift check for it.
type Observed map[string]map[string]string

// Plan compares cfg with snap at time now and returns what Apply must do.
//
// It is pure: it does no I/O and reads no clock, and the same inputs give
// the same plan, with changes sorted by address. snap may be nil (an empty
// state) and obs may be nil (no drift checks). cfg must be a validated
// configuration: references it makes are assumed to resolve.
func Plan(cfg *spec.Config, snap *state.Snapshot, obs Observed, now time.Time) *ActionPlan {
	return plan(cfg, snap, obs, now, "")
}

// plan is Plan; force names a certificate whose renewal is forced (see
// PlanRenew), "" for none.
func plan(cfg *spec.Config, snap *state.Snapshot, obs Observed, now time.Time, force string) *ActionPlan {
	if snap == nil {
		snap = &state.Snapshot{}
	}
	p := &ActionPlan{
		Lineage:      snap.Lineage,
		Serial:       snap.Serial,
		ConfigDigest: ConfigDigest(cfg),
		CreatedAt:    now,
	}
	pl := planner{cfg: cfg, snap: snap, obs: obs, now: now, p: p, force: force}
	pl.issuers()
	pl.certificates()
	pl.forgotten()
	pl.rateLimits()
	p.Notifications = queueStatus(snap)

	slices.SortFunc(p.Changes, func(a, b Change) int {
		return cmp.Or(strings.Compare(a.Address, b.Address), cmp.Compare(a.Action, b.Action), strings.Compare(a.Target, b.Target))
	})
	slices.SortFunc(p.Notes, func(a, b Note) int {
		return cmp.Or(strings.Compare(a.Address, b.Address), strings.Compare(a.Target, b.Target), strings.Compare(string(a.Kind), string(b.Kind)))
	})
	for i := range p.Changes {
		p.Summary.add(p.Changes[i].Action)
	}
	return p
}

type planner struct {
	cfg  *spec.Config
	snap *state.Snapshot
	obs  Observed
	now  time.Time
	p    *ActionPlan
	// newCA holds the local CAs this plan creates or replaces: every
	// certificate still recorded as issued by one of them is replaced.
	newCA map[string]bool
	// inState counts the configured certificates found in the state:
	// when it is all of them, nothing is to be forgotten.
	inState int
	// force is the certificate whose renewal `certctl renew` forces.
	force string
}

// CertAddress is the address of a certificate: "certificate.www".
func CertAddress(name string) string { return "certificate." + name }

// IssuerAddress is the address of an issuer: "issuer.internal".
func IssuerAddress(name string) string { return "issuer." + name }

func (pl *planner) issuers() {
	for _, name := range slices.Sorted(maps.Keys(pl.cfg.Issuers)) {
		is := pl.cfg.Issuers[name]
		if is.Type == spec.IssuerTypeACME {
			pl.acmeIssuer(is) // acme.go
			continue
		}
		if is.Type == spec.IssuerTypeStepCA {
			pl.stepCAIssuer(is) // stepca.go
			continue
		}
		if is.Type != IssuerTypeLocalCA {
			continue
		}
		ch := Change{Address: IssuerAddress(name), Kind: KindIssuer, Name: name}
		rec := pl.snap.Issuers[name]
		switch {
		case rec == nil:
			ch.Action = ActionCreate
			ch.Reason = "local CA is not in the state"
		case rec.Digest != IssuerDigest(is):
			ch.Action = ActionReplace
			ch.Forces, ch.Diffs = issuerForces(is, rec)
			ch.Reason = strings.Join(ch.Forces, ", ") + " changed: a new CA is created and every certificate it issued is replaced"
		default:
			continue
		}
		pl.markNewCA(name)
		pl.p.Changes = append(pl.p.Changes, ch)
	}
}

// markNewCA records that this plan creates or replaces the CA of issuer
// name: every certificate the old one issued is replaced.
func (pl *planner) markNewCA(name string) {
	if pl.newCA == nil {
		pl.newCA = make(map[string]bool)
	}
	pl.newCA[name] = true
}

// issuerForces names what differs between a local CA's config and its
// recorded root. It reads the root certificate (parsing, not I/O); when
// nothing it can see differs, the digest still did, and it says
// "configuration".
func issuerForces(is *spec.Issuer, rec *state.Issuer) ([]string, []AttrDiff) {
	var names []string
	var diffs []AttrDiff
	add := func(name, before, after string) {
		names = append(names, name)
		diffs = append(diffs, AttrDiff{Attribute: name, Before: before, After: after, Forces: true})
	}
	if rec.Type != is.Type {
		add("type", quote(rec.Type), quote(is.Type))
	}
	if blk, _ := pem.Decode(rec.CertPEM); blk != nil {
		if cert, err := x509.ParseCertificate(blk.Bytes); err == nil {
			cn := cmp.Or(is.CommonName, "certctl "+is.Name+" CA")
			if cert.Subject.CommonName != cn {
				add(AttrCommonName, quote(cert.Subject.CommonName), quote(cn))
			}
			alg := cmp.Or(is.KeyAlgorithm, pki.DefaultCAKeyAlgorithm)
			if have := pki.KeyAlgorithmOf(cert.PublicKey); have != alg {
				add(AttrKeyAlgorithm, quote(have), quote(alg))
			}
			validity := cmp.Or(is.Validity, pki.DefaultCAValidity)
			lifetime := cert.NotAfter.Sub(cert.NotBefore)
			if d := lifetime - validity; d > pki.Backdate+time.Second || d < -pki.Backdate-time.Second {
				add(AttrValidity, lifetime.String(), validity.String())
			}
		}
	}
	if len(names) == 0 {
		names = []string{"configuration"}
	}
	return names, diffs
}

func (pl *planner) certificates() {
	for _, c := range pl.cfg.Certificates {
		rec := pl.snap.Certificates[c.Name]
		if rec != nil {
			pl.inState++
		}
		pl.certificate(c, rec)
	}
}

func (pl *planner) certificate(c *spec.Certificate, rec *state.Certificate) {
	// The address is built only when something is reported: most
	// certificates of a large config need nothing, and Plan stays
	// allocation-free for them.
	var addrCache string
	addr := func() string {
		if addrCache == "" {
			addrCache = CertAddress(c.Name)
		}
		return addrCache
	}
	hasCert := rec != nil && rec.Fingerprint != ""
	issue := Change{Kind: KindCertificate, Name: c.Name}
	if hasCert {
		issue.Prior = rec.Fingerprint
		issue.NotAfter = rec.NotAfter
	}

	external := isExternal(pl.cfg, c)
	switch {
	case external:
		// Monitored only: certctl cannot order from this issuer, so it
		// never creates, renews or replaces; it says what needs a hand.
		pl.externalNote(c, rec, addr)
	case rec == nil:
		issue.Action = ActionCreate
		issue.Reason = "not in the state"
	case !hasCert:
		issue.Action = ActionCreate
		issue.Reason = "no certificate has been issued yet"
	default:
		issue.Forces, issue.Diffs = forces(specAttrs(c, pl.cfg), recordAttrs(rec))
		if pl.newCA[c.Issuer] && c.Issuer == rec.Issuer {
			issue.Forces = append(issue.Forces, AttrIssuer)
			issue.Diffs = append(issue.Diffs, AttrDiff{Attribute: AttrIssuer, Before: quote(rec.Issuer), After: quote(c.Issuer) + " (new CA)", Forces: true})
			slices.SortStableFunc(issue.Diffs, func(a, b AttrDiff) int { return cmp.Compare(attrOrder(a.Attribute), attrOrder(b.Attribute)) })
			slices.SortStableFunc(issue.Forces, func(a, b string) int { return cmp.Compare(attrOrder(a), attrOrder(b)) })
		}
		if len(issue.Forces) == 0 && !rec.RevokedAt.IsZero() {
			// certctl revoke: the certificate is dead, whatever its
			// dates; like an expired one, it is renewed as it is.
			issue.Action = ActionRenew
			issue.Reason = "revoked at " + ts(rec.RevokedAt) + " (" + pki.RevocationReasonName(rec.RevokedReason) + "): a new certificate is needed"
			issue.Diffs = nil
			break
		}
		if len(issue.Forces) > 0 {
			issue.Action = ActionReplace
			if pl.newCA[c.Issuer] && c.Issuer == rec.Issuer {
				issue.Reason = IssuerAddress(c.Issuer) + " is replaced"
				if len(issue.Forces) > 1 {
					issue.Reason += "; " + strings.Join(slices.DeleteFunc(slices.Clone(issue.Forces), func(s string) bool { return s == AttrIssuer }), ", ") + " changed"
				}
			} else {
				issue.Reason = strings.Join(issue.Forces, ", ") + " changed"
			}
			break
		}
		issue.Diffs = nil
		if !pl.now.Before(rec.NotAfter) {
			issue.Action = ActionRenew
			issue.Reason = "expired at " + ts(rec.NotAfter)
			break
		}
		// The CA's ARI window, or the policy's time (see jitter.go).
		if due := renewalOf(pl.cfg, c, rec); !pl.now.Before(due.At) {
			issue.Action = ActionRenew
			issue.Reason = due.reason(rec.NotAfter)
		}
	}
	forced := pl.force != "" && pl.force == c.Name
	if forced && issue.Action == 0 && !external {
		issue.Action = ActionRenew
		issue.Reason = "forced by certctl renew (due at " + ts(renewalOf(pl.cfg, c, rec).At) + ")"
	}
	// certctl renew of a certificate whose key an agent holds records the
	// request (RequestRenewal): the agent is asked for a CSR below.
	if issue.Action == 0 && !external && hasCert && !rec.RenewRequestedAt.IsZero() && !rec.RenewRequestedAt.Before(rec.IssuedAt) {
		issue.Action = ActionRenew
		issue.Reason = "renewal requested by certctl renew at " + ts(rec.RenewRequestedAt)
	}

	// A failed attempt waits for its backoff; after it, the retry says
	// what failed last time.
	if issue.Action != 0 && rec != nil && rec.Status == state.StatusFailed {
		if pl.now.Before(rec.NextAttemptAt) && !forced {
			pl.p.Notes = append(pl.p.Notes, Note{
				Address: addr(),
				Kind:    NoteRetryWait,
				Message: "retry after " + ts(rec.NextAttemptAt) + ": " + rec.LastError,
				At:      rec.NextAttemptAt,
			})
			issue.Action = 0
		} else if rec.LastError != "" {
			issue.Reason += "; retrying, last attempt failed: " + rec.LastError
		}
	}

	// The key's holder moving (a local target becomes an agent's, or
	// back) needs a new key where it will be kept: a replacement.
	keyAgent := KeyAgent(pl.cfg, c)
	if hasCert && issue.Action == 0 && keyAgent != rec.KeyAgent {
		issue.Action = ActionReplace
		issue.Forces = []string{AttrKeyHolder}
		issue.Diffs = []AttrDiff{{Attribute: AttrKeyHolder, Before: keyHolder(rec.KeyAgent), After: keyHolder(keyAgent), Forces: true}}
		issue.Reason = "the private key moves from " + keyHolder(rec.KeyAgent) + " to " + keyHolder(keyAgent)
	}
	// An agent that lost its key sends a CSR unasked: it is signed, unless
	// the certificate was issued UnaskedCSRLimit times within the hour (an
	// agent that sends CSRs in a loop must not spend its issuer's limits).
	if keyAgent != "" && issue.Action == 0 && hasCert && csrReady(pl.cfg, c, rec, keyAgent) {
		if until := UnaskedCSRHeldUntil(rec, pl.now); !until.IsZero() {
			pl.p.Notes = append(pl.p.Notes, Note{
				Address: addr(), Kind: NoteRetryWait, At: until,
				Message: "the CSR agent " + keyAgent + " sent unasked (" + rec.CSR.RequestID + ") waits until " + ts(until) +
					": at most " + strconv.Itoa(UnaskedCSRLimit) + " versions an hour are issued for an agent's own CSRs",
			})
		} else {
			issue.Action = ActionRenew
			issue.Reason = "agent " + keyAgent + " sent a new CSR (" + rec.CSR.RequestID + ")"
		}
	}
	// An agent's key: nothing to sign until its CSR is in the state.
	if keyAgent != "" && issue.Action.Issues() && !csrReady(pl.cfg, c, rec, keyAgent) {
		pl.p.Notes = append(pl.p.Notes, Note{
			Address: addr(), Kind: NoteAwaitingCSR, Agent: keyAgent,
			Message: "awaiting CSR from agent " + keyAgent + " (" + issue.Action.String() + ": " + issue.Reason + ")",
		})
		issue.Action = 0
	}

	meta := metaDiffs(c, rec)
	switch {
	case issue.Action == ActionReplace:
		issue.Diffs = append(issue.Diffs, meta...)
	case issue.Action == 0 && hasCert && len(meta) > 0:
		names := make([]string, 0, len(meta))
		for _, d := range meta {
			if name, _, _ := strings.Cut(d.Attribute, "."); len(names) == 0 || names[len(names)-1] != name {
				names = append(names, name)
			}
		}
		pl.p.Changes = append(pl.p.Changes, Change{
			Address: addr(), Kind: KindCertificate, Name: c.Name, Action: ActionUpdate,
			Reason: strings.Join(names, ", ") + " changed (no new certificate)",
			Diffs:  meta, Prior: rec.Fingerprint, NotAfter: rec.NotAfter,
		})
	}

	for _, tname := range c.Targets {
		tg := pl.cfg.Targets[tname]
		if tg == nil {
			continue
		}
		var dep state.Deployment
		var deployed bool
		if rec != nil {
			dep, deployed = rec.Deployments[tname]
		}
		if tg.Agent != "" {
			if issue.Action.Issues() || !hasCert || !deployed || dep.Fingerprint != rec.Fingerprint || dep.LastError != "" {
				n := Note{
					Address: addr(), Kind: NoteAwaitingAgent, Target: tname, Agent: tg.Agent,
					Message: "deployed when agent " + tg.Agent + " pulls it, not by apply",
				}
				if deployed && dep.LastError != "" {
					n.Error = dep.LastError
					n.Message = "agent " + tg.Agent + " failed to deploy it (rolled back): " + dep.LastError
				}
				pl.p.Notes = append(pl.p.Notes, n)
			}
			continue
		}
		if issue.Action.Issues() {
			issue.Targets = append(issue.Targets, tname)
			continue
		}
		if !hasCert {
			continue
		}
		reason := ""
		switch {
		case !deployed:
			reason = "target " + tname + " lacks the certificate"
		case dep.Fingerprint != rec.Fingerprint && dep.LastError != "":
			reason = "last deploy to target " + tname + " failed: " + dep.LastError
		case dep.Fingerprint != rec.Fingerprint:
			reason = "target " + tname + " has an earlier certificate"
		default:
			if seen, ok := pl.obs[c.Name][tname]; ok && seen != dep.FilesDigest {
				if seen == "" {
					reason = "drift: files missing in target " + tname
				} else {
					reason = "drift: files in target " + tname + " differ from the state"
				}
			}
		}
		if reason != "" {
			pl.p.Changes = append(pl.p.Changes, Change{
				Address: addr(), Kind: KindCertificate, Name: c.Name, Action: ActionDeploy,
				Reason: reason, Target: tname, Prior: rec.Fingerprint, NotAfter: rec.NotAfter,
			})
		}
	}
	if issue.Action != 0 {
		issue.Address = addr()
		slices.Sort(issue.Targets)
		pl.p.Changes = append(pl.p.Changes, issue)
	}
	pl.notice(c, rec, addr, issue.Action)
}

// metaDiffs lists owner, team and labels that differ between c and rec,
// labels as "labels.KEY" in key order.
func metaDiffs(c *spec.Certificate, rec *state.Certificate) []AttrDiff {
	if rec == nil {
		return nil
	}
	var diffs []AttrDiff
	if c.Owner != rec.Owner {
		diffs = append(diffs, AttrDiff{Attribute: "owner", Before: quote(rec.Owner), After: quote(c.Owner)})
	}
	if c.Team != rec.Team {
		diffs = append(diffs, AttrDiff{Attribute: "team", Before: quote(rec.Team), After: quote(c.Team)})
	}
	if before, after := cmp.Or(rec.OnRemove, "forget"), cmp.Or(c.OnRemove, "forget"); before != after {
		diffs = append(diffs, AttrDiff{Attribute: "on_remove", Before: quote(before), After: quote(after)})
	}
	if !maps.Equal(c.Labels, rec.Labels) {
		keys := slices.Collect(maps.Keys(c.Labels))
		for k := range rec.Labels {
			if _, ok := c.Labels[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			after, inNew := c.Labels[k]
			before, inOld := rec.Labels[k]
			if inNew && inOld && after == before {
				continue
			}
			d := AttrDiff{Attribute: "labels." + k, Before: "(none)", After: "(none)"}
			if inOld {
				d.Before = quote(before)
			}
			if inNew {
				d.After = quote(after)
			}
			diffs = append(diffs, d)
		}
	}
	return diffs
}

func (pl *planner) forgotten() {
	if pl.inState == len(pl.snap.Certificates) {
		return
	}
	for name := range pl.snap.Certificates {
		if _, ok := pl.cfg.Certificates[name]; ok {
			continue
		}
		rec := pl.snap.Certificates[name]
		ch := Change{
			Address: CertAddress(name), Kind: KindCertificate, Name: name, Action: ActionForget,
			Reason: "not in the configuration: removed from the state, not revoked",
			Prior:  rec.Fingerprint, NotAfter: rec.NotAfter,
		}
		pl.removal(&ch, rec) // on_remove = "revoke": acme.go
		pl.p.Changes = append(pl.p.Changes, ch)
	}
}

// RenewsAt is when a certificate valid from notBefore to notAfter is due
// for renewal under pol: its renew_before, or 33% of the lifetime remaining
// when pol is nil or sets none.
func RenewsAt(notBefore, notAfter time.Time, pol *spec.Policy) time.Time {
	var before time.Duration
	pct := pki.DefaultRenewPercent
	if pol != nil {
		if pol.RenewBefore.Duration > 0 {
			before = pol.RenewBefore.Duration
		} else if pol.RenewBefore.Percent > 0 {
			pct = pol.RenewBefore.Percent
		}
	}
	return pki.RenewAt(notBefore, notAfter, before, pct)
}

func attrOrder(name string) int {
	switch name {
	case AttrCommonName:
		return 0
	case AttrDNSNames:
		return 1
	case AttrIPAddresses:
		return 2
	case AttrEmailAddresses:
		return 3
	case AttrKeyAlgorithm:
		return 4
	case AttrIssuer:
		return 5
	case AttrUsages:
		return 6
	case AttrIssuerURL:
		return 7
	case AttrOCSPURL:
		return 8
	case AttrCRLURL:
		return 9
	case AttrSubjectCommonName:
		return 10
	}
	return 11
}

// ts renders a time in reasons and notes: RFC 3339 in UTC.
func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }
