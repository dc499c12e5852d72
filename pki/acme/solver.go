package acme

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	legoacme "github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/acme/api"
	"github.com/go-acme/lego/v5/challenge"
	"github.com/go-acme/lego/v5/challenge/dns01"
	"github.com/go-acme/lego/v5/challenge/http01"
)

// solver is the certifier's resolver: it gets an order's authorizations
// solved. It replaces lego's Prober and SolverManager for two reasons:
//   - lego waits 5 s before the first poll of a challenge when the CA sends
//     no Retry-After (pebble, Boulder); here the wait is Config.PollInterval;
//   - an issuer has exactly one challenge type, so choosing among solvers
//     is not needed.
//
// It still uses lego's http01 and dns01 challenge types for presenting,
// propagation checks and cleanup. Safe for concurrent orders.
type solver struct {
	poll, timeout time.Duration

	http *http01.Challenge
	dns  *dns01.Challenge
	// seq is set for DNS providers that want one record at a time, with
	// seqWait between them.
	seq     bool
	seqWait time.Duration
}

// Solve satisfies every authorization that is not already valid. It
// returns the failures joined, one per domain.
func (s *solver) Solve(ctx context.Context, authzs []legoacme.Authorization) error {
	var pending []legoacme.Authorization
	for _, a := range authzs {
		if a.Status != legoacme.StatusValid {
			pending = append(pending, a)
		}
	}
	switch {
	case len(pending) == 0:
		return nil
	case s.http != nil:
		return parallel(pending, func(a legoacme.Authorization) error { return s.http.Solve(ctx, a) })
	case s.seq:
		return s.solveDNSSequential(ctx, pending)
	default:
		return s.solveDNSParallel(ctx, pending)
	}
}

// solveDNSParallel publishes every record first so that they propagate
// together, then has each validated, then removes them all.
func (s *solver) solveDNSParallel(ctx context.Context, authzs []legoacme.Authorization) error {
	var presented []legoacme.Authorization
	defer func() {
		for _, a := range presented {
			_ = s.dns.CleanUp(context.WithoutCancel(ctx), a) // best effort
		}
	}()
	var errs []error
	var ok []legoacme.Authorization
	for _, a := range authzs {
		if err := s.dns.PreSolve(ctx, a); err != nil {
			errs = append(errs, domainErr(a, err))
			continue
		}
		presented = append(presented, a)
		ok = append(ok, a)
	}
	if len(errs) > 0 {
		return errors.Join(errs...) // no partial orders: stop before validating
	}
	return parallel(ok, func(a legoacme.Authorization) error { return s.dns.Solve(ctx, a) })
}

func (s *solver) solveDNSSequential(ctx context.Context, authzs []legoacme.Authorization) error {
	for i, a := range authzs {
		if i > 0 && s.seqWait > 0 {
			if err := sleep(ctx, s.seqWait); err != nil {
				return err
			}
		}
		err := s.dns.PreSolve(ctx, a)
		if err == nil {
			err = s.dns.Solve(ctx, a)
		}
		_ = s.dns.CleanUp(context.WithoutCancel(ctx), a)
		if err != nil {
			return domainErr(a, err)
		}
	}
	return nil
}

// parallel runs fn for each authorization at once and joins the errors.
func parallel(authzs []legoacme.Authorization, fn func(legoacme.Authorization) error) error {
	errs := make([]error, len(authzs))
	var wg sync.WaitGroup
	for i, a := range authzs {
		wg.Go(func() {
			if err := fn(a); err != nil {
				errs[i] = domainErr(a, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func domainErr(a legoacme.Authorization, err error) error {
	return fmt.Errorf("%s: %w", challenge.GetTargetedDomain(a), err)
}

// firstPoll is the wait before the first poll of a challenge.
const firstPoll = 10 * time.Millisecond

// validate tells the CA to check chlng, then polls its authorization,
// backing off from firstPoll to PollInterval (or the CA's Retry-After, if
// longer), until it is valid, invalid, or Timeout passes. It has the shape of lego's ValidateFunc.
func (s *solver) validate(ctx context.Context, core *api.Core, domain string, chlng legoacme.Challenge) error {
	ch, err := core.Challenges.New(ctx, chlng.URL)
	if err != nil {
		return fmt.Errorf("starting %s challenge: %w", chlng.Type, err)
	}
	switch ch.Status {
	case legoacme.StatusValid:
		return nil
	case legoacme.StatusInvalid:
		return fmt.Errorf("%s challenge invalid: %w", chlng.Type, orUnknown(ch.Err()))
	}
	// Poll soon at first (a CA often decides within milliseconds), then
	// back off to the poll interval. A Retry-After from the CA is a floor.
	limit := max(s.poll, ch.RetryAfter)
	wait := max(min(firstPoll, s.poll), ch.RetryAfter)
	deadline := time.Now().Add(s.timeout)
	for {
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(2*wait, limit)
		var status string
		var chErr error
		if ch.AuthorizationURL != "" {
			authz, err := core.Authorizations.Get(ctx, ch.AuthorizationURL)
			if err != nil {
				return fmt.Errorf("polling authorization: %w", err)
			}
			status, chErr = authz.Status, authzError(authz)
		} else { // no "up" link: poll the challenge itself
			c, err := core.Challenges.Get(ctx, chlng.URL)
			if err != nil {
				return fmt.Errorf("polling challenge: %w", err)
			}
			status, chErr = c.Status, orUnknown(c.Err())
		}
		switch status {
		case legoacme.StatusValid:
			return nil
		case legoacme.StatusPending, legoacme.StatusProcessing:
		case legoacme.StatusInvalid:
			return fmt.Errorf("%s challenge invalid: %w", chlng.Type, chErr)
		default:
			return fmt.Errorf("%s challenge: authorization is %s", chlng.Type, status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s challenge: not validated within %s", chlng.Type, s.timeout)
		}
	}
}

// authzError is the problem of the authorization's failed challenge.
func authzError(a legoacme.Authorization) error {
	for _, c := range a.Challenges {
		if c.Status == legoacme.StatusInvalid && c.Error != nil {
			return c.Err()
		}
	}
	return errors.New("authorization invalid")
}

// orUnknown stands in for a missing problem document.
func orUnknown(err error) error {
	if err == nil {
		return errors.New("the CA gave no detail")
	}
	return err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
