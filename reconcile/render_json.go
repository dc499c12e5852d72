package reconcile

import (
	"encoding/json"
	"io"
	"time"
)

type jsonView struct{}

// planDoc is the JSON form of a plan: the `plan -json` output and the saved
// plan file are the same document (schemas/plan.schema.json).
type planDoc struct {
	FormatVersion string    `json:"format_version"`
	Lineage       string    `json:"lineage"`
	Serial        uint64    `json:"serial"`
	ConfigDigest  string    `json:"config_digest"`
	CreatedAt     time.Time `json:"created_at"`
	Changes       []Change  `json:"changes"`
	Notes         []Note    `json:"notes"`
	Summary       Summary   `json:"summary"`

	// Notifications is the queue section (see QueueStatus); a saved plan
	// carries it for information only.
	Notifications *QueueStatus `json:"notifications,omitempty"`
}

func newPlanDoc(p *ActionPlan) *planDoc {
	d := &planDoc{
		FormatVersion: FormatVersion,
		Lineage:       p.Lineage,
		Serial:        p.Serial,
		ConfigDigest:  p.ConfigDigest,
		CreatedAt:     p.CreatedAt.UTC(),
		Changes:       p.Changes,
		Notes:         p.Notes,
		Summary:       p.Summary,
		Notifications: &QueueStatus{Dead: p.Notifications.Dead, WaitingRetry: p.Notifications.WaitingRetry, Pending: p.Notifications.Pending},
	}
	if d.Notifications.Dead == nil {
		d.Notifications.Dead = []DeadNotification{}
	}
	if d.Changes == nil {
		d.Changes = []Change{}
	}
	if d.Notes == nil {
		d.Notes = []Note{}
	}
	return d
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Plan writes the plan as one indented JSON document.
func (jsonView) Plan(w io.Writer, p *ActionPlan) error { return writeJSON(w, newPlanDoc(p)) }

// showDoc is the JSON form of an inventory (schemas/show.schema.json).
type showDoc struct {
	FormatVersion string       `json:"format_version"`
	Certificates  []CertStatus `json:"certificates"`
}

// Show writes the inventory as one indented JSON document.
func (jsonView) Show(w io.Writer, certs []CertStatus) error {
	if certs == nil {
		certs = []CertStatus{}
	}
	return writeJSON(w, showDoc{FormatVersion: FormatVersion, Certificates: certs})
}

type applyDoc struct {
	FormatVersion string       `json:"format_version"`
	Created       int          `json:"created"`
	Renewed       int          `json:"renewed"`
	Replaced      int          `json:"replaced"`
	Updated       int          `json:"updated"`
	Deployed      int          `json:"deployed"`
	Forgotten     int          `json:"forgotten"`
	Failed        int          `json:"failed"`
	Notified      int          `json:"notified"`
	Revoked       int          `json:"revoked,omitempty"`
	Deferred      []string     `json:"deferred,omitempty"`
	Errors        []applyError `json:"errors"`

	// Delivery is the delivery sweep that followed the changes.
	Delivery *deliveryDoc `json:"notifications,omitempty"`
}

type applyError struct {
	Address string `json:"address"`
	Action  Action `json:"action"`
	Target  string `json:"target,omitempty"`
	Error   string `json:"error"`
}

// Result writes the apply's counts and errors as JSON.
func (jsonView) Result(w io.Writer, r *Result) error {
	d := applyDoc{
		FormatVersion: FormatVersion,
		Created:       r.Created, Renewed: r.Renewed, Replaced: r.Replaced, Updated: r.Updated,
		Deployed: r.Deployed, Forgotten: r.Forgotten, Failed: r.Failed,
		Notified: r.Notified,
		Revoked:  r.Revoked, Deferred: r.Deferred,
		Errors:   []applyError{},
		Delivery: newDeliveryDoc(r.Delivery),
	}
	for _, e := range r.Errors {
		d.Errors = append(d.Errors, applyError{Address: e.Address, Action: e.Action, Target: e.Target, Error: e.Error()})
	}
	return writeJSON(w, d)
}
