package reconcile

import (
	"fmt"
	"time"
)

// Action is what a Change does. Its zero value is invalid.
type Action uint8

// Actions, in the order a plan's summary counts them.
const (
	ActionCreate Action = iota + 1
	ActionRenew
	ActionReplace
	ActionUpdate
	ActionDeploy
	ActionForget
	// ActionNotify raises an expiry notice (see expiry.go). It sorts after
	// a certificate's other changes, so it sees the outcome of a renewal
	// in the same plan.
	ActionNotify
	// ActionRevoke revokes a certificate that left the configuration
	// with on_remove = "revoke", then forgets it (see acme.go).
	ActionRevoke
)

var actionNames = [...]string{
	ActionCreate:  "create",
	ActionRenew:   "renew",
	ActionReplace: "replace",
	ActionUpdate:  "update",
	ActionDeploy:  "deploy",
	ActionForget:  "forget",
	ActionNotify:  "notify",
	ActionRevoke:  "revoke",
}

var actionSymbols = [...]string{
	ActionCreate:  "+",
	ActionRenew:   "R",
	ActionReplace: "-/+",
	ActionUpdate:  "~",
	ActionDeploy:  ">",
	ActionForget:  "-",
	ActionNotify:  "N",
	ActionRevoke:  "x",
}

// Actions lists every valid action in summary order.
var Actions = []Action{ActionCreate, ActionRenew, ActionReplace, ActionUpdate, ActionDeploy, ActionForget, ActionNotify, ActionRevoke}

func (a Action) valid() bool { return int(a) < len(actionNames) && actionNames[a] != "" }

// String is the action's name: "create", "renew", ...
func (a Action) String() string {
	if !a.valid() {
		return fmt.Sprintf("Action(%d)", uint8(a))
	}
	return actionNames[a]
}

// Symbol is how the text view marks the action: "+", "R", "-/+", "~", ">", "-", "N", ...
func (a Action) Symbol() string {
	if !a.valid() {
		return "?"
	}
	return actionSymbols[a]
}

// Issues reports whether the action asks an issuer for a new certificate.
func (a Action) Issues() bool {
	return a == ActionCreate || a == ActionRenew || a == ActionReplace
}

// MarshalText encodes the action as its name.
func (a Action) MarshalText() ([]byte, error) {
	if !a.valid() {
		return nil, fmt.Errorf("invalid action %d", uint8(a))
	}
	return []byte(actionNames[a]), nil
}

// UnmarshalText decodes an action name.
func (a *Action) UnmarshalText(b []byte) error {
	for _, x := range Actions {
		if actionNames[x] == string(b) {
			*a = x
			return nil
		}
	}
	return fmt.Errorf("unknown action %q", b)
}

// Kinds of the object a Change is about.
const (
	KindCertificate = "certificate"
	KindIssuer      = "issuer"
)

// Attribute names that force a new certificate, in the order Forces lists
// them.
const (
	AttrCommonName     = "common_name"
	AttrDNSNames       = "dns_names"
	AttrIPAddresses    = "ip_addresses"
	AttrEmailAddresses = "email_addresses"
	AttrKeyAlgorithm   = "key_algorithm"
	AttrIssuer         = "issuer"
	AttrUsages         = "usages"
	// A local CA's publication URLs, written into its certificates.
	AttrIssuerURL = "issuer_url"
	AttrOCSPURL   = "ocsp_url"
	AttrCRLURL    = "crl_url"
	// AttrSubjectCommonName is the policy's subject_common_name: whether
	// the common name is in the subject.
	AttrSubjectCommonName = "subject_common_name"
	AttrValidity          = "validity" // issuers only
	// AttrKeyHolder is where the private key is kept: the state, or the
	// agent that generated it (see KeyAgent).
	AttrKeyHolder = "key_holder"
)

// Change is one planned action on one object (and, for deploy, one target).
type Change struct {
	// Address is "certificate.www", `certificate.sites["api"]` or
	// "issuer.internal".
	Address string `json:"address"`
	Kind    string `json:"kind"` // KindCertificate or KindIssuer
	Name    string `json:"name"` // the name in the config (or the state, for forget)
	Action  Action `json:"action"`
	// Reason is one sentence for a reviewer.
	Reason string `json:"reason"`
	// Forces names the attributes that force a replace, in a fixed order.
	Forces []string `json:"forces,omitempty"`
	// Diffs shows what changed, for replace and update.
	Diffs []AttrDiff `json:"diffs,omitempty"`
	// Target is the target a deploy change writes to.
	Target string `json:"target,omitempty"`
	// Targets are the local targets an issuing change deploys to once the
	// new certificate is committed.
	Targets []string `json:"targets,omitempty"`
	// Prior is the fingerprint of the current certificate the plan saw
	// ("" if none). Apply checks it again before acting, so a change that
	// another process already carried out is not done twice.
	Prior string `json:"prior_fingerprint,omitempty"`
	// NotAfter is when the current certificate expires (zero if none).
	NotAfter time.Time `json:"not_after,omitzero"`
	// Event, Threshold and Notifiers describe a notify change: the event
	// ("expiring" or "expired"), the notify_before threshold reached
	// ("14d"; expiring only) and the notifiers it is routed to.
	Event     string   `json:"event,omitempty"`
	Threshold string   `json:"threshold,omitempty"`
	Notifiers []string `json:"notifiers,omitempty"`
	// RevocationReason is the RFC 5280 reason name a revoke change gives
	// ("keyCompromise"); "" reads as cessationOfOperation.
	RevocationReason string `json:"revocation_reason,omitempty"`
}

// AttrDiff is one changed attribute; values are rendered for display.
type AttrDiff struct {
	Attribute string `json:"attribute"`
	Before    string `json:"before"`
	After     string `json:"after"`
	Forces    bool   `json:"forces_replacement,omitempty"`
}

// NoteKind says why a Note is in a plan.
type NoteKind string

// Note kinds.
const (
	// NoteRetryWait: the last attempt failed and its backoff has not
	// passed; the plan does not retry it.
	NoteRetryWait NoteKind = "retry_wait"
	// NoteAwaitingAgent: the target belongs to an agent, which pulls the
	// certificate itself; apply does not deploy it.
	NoteAwaitingAgent NoteKind = "awaiting_agent"
	// NoteRateLimit: an issuer's order budget (rate_limit) does not cover
	// every order planned for it; apply issues the most urgent and defers
	// the rest to a later run (see ratelimit.go).
	NoteRateLimit NoteKind = "rate_limit"
	// NoteExternal: a certificate of an external issuer needs a hand
	// (not imported, renewal due, expired, or its attributes changed):
	// certctl cannot issue it (see external.go).
	NoteExternal NoteKind = "external"
)

// Note is something a plan reports that is not a change.
type Note struct {
	Address string   `json:"address"`
	Kind    NoteKind `json:"kind"`
	Target  string   `json:"target,omitempty"`
	Agent   string   `json:"agent,omitempty"`
	Message string   `json:"message"`
	// At is the next attempt time for NoteRetryWait.
	At time.Time `json:"at,omitzero"`
	// Error is, for NoteAwaitingAgent, the failure the agent reported for
	// its last deployment to the target (rolled back on the host).
	Error string `json:"error,omitempty"`
}

// Summary counts a plan's changes by action. Issuer changes count with the
// certificate ones.
type Summary struct {
	Create  int `json:"create"`
	Renew   int `json:"renew"`
	Replace int `json:"replace"`
	Update  int `json:"update"`
	Deploy  int `json:"deploy"`
	Forget  int `json:"forget"`
	Notify  int `json:"notify"`
	Revoke  int `json:"revoke,omitempty"`
}

func (s *Summary) add(a Action) {
	switch a {
	case ActionCreate:
		s.Create++
	case ActionRenew:
		s.Renew++
	case ActionReplace:
		s.Replace++
	case ActionUpdate:
		s.Update++
	case ActionDeploy:
		s.Deploy++
	case ActionForget:
		s.Forget++
	case ActionNotify:
		s.Notify++
	case ActionRevoke:
		s.Revoke++
	}
}

// Total is the number of changes.
func (s Summary) Total() int {
	return s.Create + s.Renew + s.Replace + s.Update + s.Deploy + s.Forget + s.Notify + s.Revoke
}

// ActionPlan is the result of Plan: what Apply will do.
type ActionPlan struct {
	// Lineage and Serial identify the state snapshot the plan was made
	// from; ConfigDigest the configuration (see ConfigDigest).
	Lineage      string
	Serial       uint64
	ConfigDigest string
	// CreatedAt is the now Plan was given.
	CreatedAt time.Time
	// Changes are sorted by address, then action, then target.
	Changes []Change
	// Notes are sorted by address, then target.
	Notes   []Note
	Summary Summary
	// Notifications is the queue of notification rows as the snapshot
	// had it: the dead rows an operator must requeue, and how many wait.
	// It is information, not a change (see queue.go).
	Notifications QueueStatus
}

// HasChanges reports whether applying the plan would do anything. Notify
// changes count; notification rows that are dead or wait for a retry do
// not (apply delivers the waiting ones anyway).
func (p *ActionPlan) HasChanges() bool { return len(p.Changes) > 0 }
