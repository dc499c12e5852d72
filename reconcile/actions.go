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
)

var actionNames = [...]string{
	ActionCreate:  "create",
	ActionRenew:   "renew",
	ActionReplace: "replace",
	ActionUpdate:  "update",
	ActionDeploy:  "deploy",
	ActionForget:  "forget",
}

var actionSymbols = [...]string{
	ActionCreate:  "+",
	ActionRenew:   "R",
	ActionReplace: "-/+",
	ActionUpdate:  "~",
	ActionDeploy:  ">",
	ActionForget:  "-",
}

// Actions lists every valid action in summary order.
var Actions = []Action{ActionCreate, ActionRenew, ActionReplace, ActionUpdate, ActionDeploy, ActionForget}

func (a Action) valid() bool { return a >= ActionCreate && a <= ActionForget }

// String is the action's name: "create", "renew", ...
func (a Action) String() string {
	if !a.valid() {
		return fmt.Sprintf("Action(%d)", uint8(a))
	}
	return actionNames[a]
}

// Symbol is how the text view marks the action: "+", "R", "-/+", "~", ">", "-".
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
	AttrValidity       = "validity" // issuers only
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
	}
}

// Total is the number of changes.
func (s Summary) Total() int {
	return s.Create + s.Renew + s.Replace + s.Update + s.Deploy + s.Forget
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
}

// HasChanges reports whether applying the plan would do anything.
func (p *ActionPlan) HasChanges() bool { return len(p.Changes) > 0 }
