package notify

import (
	"sort"

	"github.com/certctl/certctl/spec"
)

// Wants reports whether notifier n receives event: true when n has no
// `events` filter or event is in it. A nil n wants nothing.
func Wants(n *spec.Notifier, event string) bool {
	if n == nil {
		return false
	}
	if len(n.Events) == 0 {
		return true
	}
	for _, e := range n.Events {
		if e == event {
			return true
		}
	}
	return false
}

// Route returns the names of the notifiers that receive event for cert:
// those of its team, of its owner and its own `notifiers`, deduplicated,
// filtered by [Wants], sorted. Names not declared in cfg are left out (spec
// validation reports them). Route is pure and never returns nil for a
// certificate that has notifiers, only an empty slice.
func Route(cfg *spec.Config, cert *spec.Certificate, event string) []string {
	if cfg == nil || cert == nil {
		return nil
	}
	seen := map[string]bool{}
	var names []string
	add := func(list []string) {
		for _, name := range list {
			if seen[name] {
				continue
			}
			seen[name] = true
			if Wants(cfg.Notifiers[name], event) {
				names = append(names, name)
			}
		}
	}
	if t := cfg.Teams[cert.Team]; t != nil {
		add(t.Notifiers)
	}
	if o := cfg.Owners[cert.Owner]; o != nil {
		add(o.Notifiers)
	}
	add(cert.Notifiers)
	sort.Strings(names)
	return names
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
