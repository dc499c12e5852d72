// Package diff says what a change to the configuration does: the review of
// a pull request between two revisions of the HCL.
//
// LoadRevision reads a revision's configuration out of git (spec/gitsrc).
// The entry point is Compare(base, head, opts), pure and deterministic: it
// takes the configuration at both revisions (HEAD may carry diagnostics)
// and, when a state is reachable, the state snapshot, and returns a Diff of
// changed blocks sorted by kind and name, the items a reviewer must not
// miss (Attention), the diagnostics at HEAD and, with a state, the plan
// changes the revision introduces. Write renders it as text, JSON or
// Markdown for a pull-request comment (bounded to MaxMarkdown bytes).
//
// Certificate changes are judged by reconcile.CompareCertificates, and the
// state's effect by reconcile.Plan at both revisions, so a diff names the
// same forcing attributes and reasons as the plan. Values read through
// env() or file() never leave this package: a changed one shows as
// "(sensitive)".
package diff

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/certctl/certctl/reconcile"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// Revision is one side of a diff: the configuration as loaded at a
// revision.
type Revision struct {
	// Rev is the revision as the user named it ("main", "HEAD~1"); SHA is
	// the commit it resolved to ("" when unknown).
	Rev, SHA string
	// Config is nil when the revision did not parse; otherwise it may be
	// partial when Diags has errors.
	Config *spec.Config
	Diags  hcl.Diagnostics
}

func (r Revision) broken() bool { return r.Config == nil || r.Diags.HasErrors() }

// Options adjust Compare.
type Options struct {
	// Snapshot is the state, read-only; nil compares the configurations
	// alone.
	Snapshot *state.Snapshot
	// Now is the time the plans are made at (see reconcile.Plan).
	Now time.Time
	// Path is the configuration directory inside the repository ("certs/"),
	// prefixed to the file names of diagnostics so they point into the
	// repository; "" for its root.
	Path string
}

// Op is what a change does to a block.
type Op string

// Ops, in the order a diff lists them.
const (
	OpAdd     Op = "add"
	OpReplace Op = "replace" // a new certificate (or CA) is needed
	OpUpdate  Op = "update"
	OpRemove  Op = "remove"
)

func (o Op) order() int {
	switch o {
	case OpAdd:
		return 0
	case OpReplace:
		return 1
	case OpUpdate:
		return 2
	}
	return 3
}

// Symbol marks the op as the plan's text view marks actions.
func (o Op) Symbol() string {
	switch o {
	case OpAdd:
		return "+"
	case OpReplace:
		return "-/+"
	case OpUpdate:
		return "~"
	}
	return "-"
}

// Kinds of block, in the order a diff lists them: what certificates depend
// on comes first.
var Kinds = []string{"settings", "issuer", "policy", "notifier", "team", "owner", "agent", "target", "certificate"}

func kindOrder(k string) int { return slices.Index(Kinds, k) }

// Change is one block added, removed or changed between the revisions.
type Change struct {
	Address string `json:"address"` // "certificate.www", "policy.standard"
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Op      Op     `json:"op"`
	// Type is the block type of a typed block ("acme", "webhook").
	Type string `json:"type,omitempty"`
	// Reason is one sentence for a reviewer.
	Reason string `json:"reason"`
	// Forces names the attributes that force a new certificate.
	Forces []string             `json:"forces,omitempty"`
	Diffs  []reconcile.AttrDiff `json:"diffs,omitempty"`
	// Affects lists the addresses of the certificates at HEAD (at BASE
	// for a removal) that use a changed policy, issuer, notifier, team,
	// owner or target, sorted.
	Affects []string `json:"affects,omitempty"`
	// Certificate summary, for added and removed certificates.
	CommonName string `json:"common_name,omitempty"`
	Issuer     string `json:"issuer,omitempty"`
	Policy     string `json:"policy,omitempty"`
	Owner      string `json:"owner,omitempty"`
	// OnRemove is a removed certificate's on_remove at BASE ("forget" or
	// "revoke").
	OnRemove string `json:"on_remove,omitempty"`
	// RenamedFrom is, for an added certificate, the address of a removed
	// one with the same common name: most likely the same certificate
	// under a new name, which is issued anew.
	RenamedFrom string `json:"renamed_from,omitempty"`
}

// Attention kinds: changes a reviewer must not miss.
const (
	AttentionKeyDowngrade     = "key_downgrade"
	AttentionValidityIncrease = "validity_increase"
	AttentionNewWildcard      = "new_wildcard"
	AttentionIssuerSwitch     = "issuer_switch"
	AttentionRevoke           = "revoke_on_remove"
)

// Attention is one change a reviewer must not miss.
type Attention struct {
	Address string `json:"address"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// Problem is a diagnostic at HEAD, located in the repository.
type Problem struct {
	Severity string `json:"severity"` // "error" or "warning"
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail,omitempty"`
}

// Location is "certs/main.hcl:12:3", or "" when the problem has none.
func (p Problem) Location() string {
	if p.File == "" {
		return ""
	}
	return p.File + ":" + strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Column)
}

// Effect is what the HEAD configuration does on top of the state.
type Effect struct {
	Lineage string `json:"lineage,omitempty"`
	Serial  uint64 `json:"serial"`
	// Changes are HEAD's plan; Introduced marks those BASE's plan does
	// not have (the ones this change causes).
	Changes []EffectChange    `json:"changes"`
	Summary reconcile.Summary `json:"summary"`
	// Introduced counts the changes marked Introduced.
	Introduced int `json:"introduced"`
}

// EffectChange is a change of HEAD's plan, as the plan's JSON has it.
type EffectChange struct {
	Change     reconcile.Change `json:"change"`
	Introduced bool             `json:"introduced"`
}

// Summary counts a diff's changes.
type Summary struct {
	Add     int `json:"add"`
	Replace int `json:"replace"`
	Update  int `json:"update"`
	Remove  int `json:"remove"`
	// Blocks counts changed blocks other than certificates.
	Blocks    int `json:"blocks"`
	Attention int `json:"attention"`
	Errors    int `json:"errors"`
}

// Diff is the result of Compare.
type Diff struct {
	Base, Head Revision
	// BaseBroken is set when BASE does not load: everything at HEAD then
	// shows as added.
	BaseBroken bool
	// Changes are sorted by kind (Kinds order), then op, then name.
	Changes   []Change
	Attention []Attention
	Problems  []Problem
	// Effect is nil without a state, or when HEAD does not load.
	Effect  *Effect
	Summary Summary
}

// HasChanges reports whether the revisions differ in any block, or the
// change introduces a plan change.
func (d *Diff) HasChanges() bool {
	return len(d.Changes) > 0 || (d.Effect != nil && d.Effect.Introduced > 0)
}

// HasErrors reports whether HEAD has error diagnostics.
func (d *Diff) HasErrors() bool { return d.Summary.Errors > 0 }

// Compare returns what changes from base to head. It is pure: no I/O, no
// clock reads; the same inputs give the same Diff. A base that does not
// load compares as an empty configuration; a head that does not load gives
// its problems and no changes.
func Compare(base, head Revision, opts Options) *Diff {
	d := &Diff{Base: base, Head: head, BaseBroken: base.broken()}
	d.Problems = problems(head.Diags, opts.Path)
	for _, p := range d.Problems {
		if p.Severity == "error" {
			d.Summary.Errors++
		}
	}
	if head.broken() {
		return d
	}
	before := base.Config
	if d.BaseBroken {
		before = emptyConfig()
	}
	c := comparer{before: before, after: head.Config, d: d}
	c.blocks()
	c.certificates()
	slices.SortFunc(d.Changes, func(a, b Change) int {
		return cmp.Or(cmp.Compare(kindOrder(a.Kind), kindOrder(b.Kind)), cmp.Compare(a.Op.order(), b.Op.order()), strings.Compare(a.Name, b.Name))
	})
	slices.SortFunc(d.Attention, func(a, b Attention) int {
		return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.Address, b.Address), strings.Compare(a.Message, b.Message))
	})
	d.Attention = slices.Compact(d.Attention)
	for _, ch := range d.Changes {
		switch {
		case ch.Kind != "certificate":
			d.Summary.Blocks++
		case ch.Op == OpAdd:
			d.Summary.Add++
		case ch.Op == OpReplace:
			d.Summary.Replace++
		case ch.Op == OpUpdate:
			d.Summary.Update++
		case ch.Op == OpRemove:
			d.Summary.Remove++
		}
	}
	if opts.Snapshot != nil {
		d.Effect = effect(before, head.Config, opts.Snapshot, opts.Now, d.BaseBroken)
		for _, ch := range d.Effect.Changes {
			if ch.Introduced && ch.Change.Action == reconcile.ActionRevoke {
				d.Attention = append(d.Attention, Attention{Address: ch.Change.Address, Kind: AttentionRevoke, Message: "the state says on_remove = \"revoke\": apply revokes it at its CA"})
			}
		}
		slices.SortFunc(d.Attention, func(a, b Attention) int {
			return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.Address, b.Address), strings.Compare(a.Message, b.Message))
		})
		d.Attention = slices.CompactFunc(d.Attention, func(a, b Attention) bool { return a.Kind == b.Kind && a.Address == b.Address })
	}
	d.Summary.Attention = len(d.Attention)
	return d
}

func emptyConfig() *spec.Config {
	return &spec.Config{
		Teams: map[string]*spec.Team{}, Owners: map[string]*spec.Owner{}, Policies: map[string]*spec.Policy{},
		Issuers: map[string]*spec.Issuer{}, Notifiers: map[string]*spec.Notifier{}, Agents: map[string]*spec.Agent{},
		Targets: map[string]*spec.Target{}, Certificates: map[string]*spec.Certificate{},
	}
}

// problems converts diagnostics, with file names made relative to the
// repository.
func problems(diags hcl.Diagnostics, path string) []Problem {
	var out []Problem
	prefix := strings.TrimSuffix(strings.TrimPrefix(path, "./"), "/")
	if prefix == "." {
		prefix = ""
	}
	for _, dg := range diags {
		p := Problem{Severity: "error", Summary: dg.Summary, Detail: dg.Detail}
		if dg.Severity == hcl.DiagWarning {
			p.Severity = "warning"
		}
		if dg.Subject != nil {
			p.File = dg.Subject.Filename
			if prefix != "" && p.File != "" {
				p.File = prefix + "/" + p.File
			}
			p.Line, p.Column = dg.Subject.Start.Line, dg.Subject.Start.Column
		}
		out = append(out, p)
	}
	slices.SortStableFunc(out, func(a, b Problem) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return out
}

// effect plans both revisions against snap and marks HEAD's changes that
// BASE's plan does not have.
func effect(before, after *spec.Config, snap *state.Snapshot, now time.Time, baseBroken bool) *Effect {
	head := reconcile.Plan(after, snap, nil, now)
	type key struct {
		addr   string
		action reconcile.Action
		target string
	}
	seen := map[key]bool{}
	if !baseBroken {
		for _, ch := range reconcile.Plan(before, snap, nil, now).Changes {
			seen[key{ch.Address, ch.Action, ch.Target}] = true
		}
	}
	e := &Effect{Lineage: snap.Lineage, Serial: snap.Serial, Summary: head.Summary, Changes: make([]EffectChange, 0, len(head.Changes))}
	for _, ch := range head.Changes {
		in := !seen[key{ch.Address, ch.Action, ch.Target}]
		if in {
			e.Introduced++
		}
		e.Changes = append(e.Changes, EffectChange{Change: ch, Introduced: in})
	}
	return e
}
