package reconcile

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certctl/certctl/spec"
)

// TestApplyObserve checks Deps.Observe: one Outcome per attempted issuing
// change, with the issuer from the config, the issuing error only (a
// failed deploy after the commit is a success), and a duration that stops
// at the commit, before the deploys.
func TestApplyObserve(t *testing.T) {
	e := newApplyEnv(t)
	e.cfg.Issuers["bad"] = &spec.Issuer{Type: "acme", Name: "bad"}
	e.cfg.Certificates["broken"] = &spec.Certificate{
		Name: "broken", Label: "broken", CommonName: "broken.example.com", Issuer: "bad", Policy: "standard",
		Owner: "alice", Team: "platform", KeyAlgorithm: "ecdsa-p256", Validity: 90 * 24 * time.Hour,
	}
	e.store.failPut = map[string]error{"mail": errors.New("disk full")}
	// www and sites deploy to "local", whose reload is slow and fails.
	const reloadTakes = time.Second
	e.exec.hook = func(_, command string) error {
		if command == "nginx -s reload" {
			time.Sleep(reloadTakes)
			return errors.New("nginx is down")
		}
		return nil
	}

	var mu sync.Mutex
	got := map[string]Outcome{}
	calls := 0
	_, err := Apply(context.Background(), e.plan(), e.cfg, Deps{
		Store:       e.store,
		Issuers:     map[string]Issuer{"bad": failingIssuer{errors.New("CA said no")}},
		Now:         func() time.Time { return e.now },
		Parallelism: 3,
		Exec:        e.exec.exec,
		Observe: func(o Outcome) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			got[o.Name] = o
		},
	})
	if err == nil {
		t.Fatal("Apply() error = nil, want the failures")
	}
	if calls != 4 {
		t.Errorf("Observe called %d times, want 4 (one per certificate; the CA is not a certificate)", calls)
	}
	for _, name := range []string{"www", `sites["api"]`, "mail", "broken"} {
		if _, ok := got[name]; !ok {
			t.Errorf("no Outcome for %s", name)
		}
	}
	for _, name := range []string{"www", `sites["api"]`} {
		o := got[name]
		if o.Err != nil || o.Issuer != "internal" || o.Action != ActionCreate {
			t.Errorf("Outcome(%s) = %+v, want a create by internal without error (only its deploy failed)", name, o)
		}
		if o.Duration <= 0 || o.Duration >= reloadTakes {
			t.Errorf("Outcome(%s).Duration = %v, want > 0 and without the %v reload", name, o.Duration, reloadTakes)
		}
	}
	if o := got["mail"]; o.Err == nil || !strings.Contains(o.Err.Error(), "disk full") || o.Issuer != "internal" {
		t.Errorf("Outcome(mail) = %+v, want the commit's error", o)
	}
	if o := got["broken"]; o.Err == nil || !strings.Contains(o.Err.Error(), "CA said no") || o.Issuer != "bad" || o.Duration <= 0 {
		t.Errorf("Outcome(broken) = %+v, want the issuer's error", o)
	}

	// A renewal is observed as one; certificates with nothing to do are not.
	e.store.failPut = nil
	e.exec.hook = nil
	delete(e.cfg.Certificates, "broken")
	if _, err := e.apply(e.plan(), nil); err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	e.now = t0.Add(80 * 24 * time.Hour) // issued at t0 for 90 days: all in their renewal window
	clear(got)
	calls = 0
	p := e.plan()
	if _, err := Apply(context.Background(), p, e.cfg, Deps{
		Store: e.store, Now: func() time.Time { return e.now }, Exec: e.exec.exec,
		Observe: func(o Outcome) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			got[o.Name] = o
		},
	}); err != nil {
		t.Fatalf("third Apply: %v", err)
	}
	var renewed []string
	for _, ch := range p.Changes {
		if ch.Action.Issues() {
			renewed = append(renewed, ch.Name)
		}
	}
	if len(renewed) != 3 || calls != len(renewed) {
		t.Fatalf("Observe called %d times for issuing changes %q", calls, renewed)
	}
	for _, name := range renewed {
		if o := got[name]; o.Action != ActionRenew || o.Err != nil {
			t.Errorf("Outcome(%s) = %+v, want a renewal without error", name, o)
		}
	}
}
