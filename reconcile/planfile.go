package reconcile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/certctl/certctl/state"
)

// ErrStalePlan is wrapped by CheckFresh's errors.
var ErrStalePlan = errors.New("saved plan is stale")

// EncodePlan writes p as a saved plan: the same JSON document as the JSON
// plan view. It holds no secret (no key, no sensitive config value).
func EncodePlan(w io.Writer, p *ActionPlan) error { return writeJSON(w, newPlanDoc(p)) }

// DecodePlan reads a saved plan written by EncodePlan. It refuses a
// document of another major format version and unknown actions.
func DecodePlan(r io.Reader) (*ActionPlan, error) {
	var d planDoc
	dec := json.NewDecoder(r)
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("reading saved plan: %w", err)
	}
	major, _, _ := strings.Cut(FormatVersion, ".")
	if v, _, _ := strings.Cut(d.FormatVersion, "."); v != major {
		return nil, fmt.Errorf("reading saved plan: format_version %q is not supported (this certctl reads %s.x)", d.FormatVersion, major)
	}
	p := &ActionPlan{
		Lineage: d.Lineage, Serial: d.Serial, ConfigDigest: d.ConfigDigest, CreatedAt: d.CreatedAt,
		Changes: d.Changes, Notes: d.Notes,
	}
	if d.Notifications != nil {
		p.Notifications = *d.Notifications
	}
	for i := range p.Changes {
		ch := &p.Changes[i]
		if !ch.Action.valid() || ch.Address == "" || ch.Name == "" {
			return nil, fmt.Errorf("reading saved plan: change %d is incomplete", i+1)
		}
		p.Summary.add(ch.Action)
	}
	return p, nil
}

// WritePlanFile saves p to path (for `plan -out FILE`), atomically.
func WritePlanFile(path string, p *ActionPlan) error {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing plan file: %w", err)
	}
	defer os.Remove(tmp.Name())
	err = EncodePlan(tmp, p)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync() // the rename below must not publish an empty file
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing plan file %s: %w", path, err)
	}
	return nil
}

// ReadPlanFile reads a plan saved by WritePlanFile.
func ReadPlanFile(path string) (*ActionPlan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading saved plan: %w", err)
	}
	defer f.Close()
	p, err := DecodePlan(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// CheckFresh returns an error wrapping ErrStalePlan if p was made from
// another state (lineage), an earlier state (serial) or another
// configuration (cfgDigest, from ConfigDigest) than snap and cfgDigest.
// A plan made with no state at all is fresh for a new, unwritten state.
func (p *ActionPlan) CheckFresh(snap *state.Snapshot, cfgDigest string) error {
	if snap == nil {
		snap = &state.Snapshot{}
	}
	// A plan made before any state existed applies to a state that was
	// created since but has seen no write: nothing it assumed has changed.
	sameLineage := p.Lineage == snap.Lineage || (p.Lineage == "" && p.Serial == 0 && snap.Serial == 0)
	switch {
	case !sameLineage:
		return fmt.Errorf("%w: it was made for another state (lineage %s, now %s); run certctl plan again", ErrStalePlan, orNone(p.Lineage), orNone(snap.Lineage))
	case p.Serial != snap.Serial:
		return fmt.Errorf("%w: the state changed since it was made (serial %d, now %d); run certctl plan again", ErrStalePlan, p.Serial, snap.Serial)
	case p.ConfigDigest != cfgDigest:
		return fmt.Errorf("%w: the configuration changed since it was made; run certctl plan again", ErrStalePlan)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
