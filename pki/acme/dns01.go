package acme

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/go-acme/lego/v5/acme/api"
	"github.com/go-acme/lego/v5/challenge"
	"github.com/go-acme/lego/v5/challenge/dns01"
)

// newDNS01 builds the dns-01 challenge for cfg: the named provider, with
// the issuer's propagation timeout and poll interval, and, when resolvers
// are configured, a propagation check that asks only them.
//
// lego keeps its resolver list process-wide (dns01.SetDefaultClient); the
// check below is per issuer instead, so two issuers may name different
// resolvers. lego still follows CNAMEs of _acme-challenge names with the
// system resolvers.
func newDNS01(core *api.Core, cfg *Config, s *solver) (*dns01.Challenge, error) {
	d := cfg.DNS01
	prov, err := newDNSProvider(d.Provider, d.Config)
	if err != nil {
		return nil, err
	}
	if sp, ok := prov.(interface{ Sequential() time.Duration }); ok {
		s.seq, s.seqWait = true, sp.Sequential()
	}
	timeout := d.PropagationTimeout
	if timeout == 0 {
		timeout = dns01.DefaultPropagationTimeout
		if pt, ok := prov.(challenge.ProviderTimeout); ok {
			timeout, _ = pt.Timeout()
		}
	}
	var opts []dns01.ChallengeOption
	if len(d.Resolvers) > 0 {
		addrs := make([]string, len(d.Resolvers))
		for i, r := range d.Resolvers {
			if addrs[i], err = resolverAddr(r); err != nil {
				return nil, err
			}
		}
		opts = append(opts, dns01.WrapPreCheck(func(ctx context.Context, _, fqdn, value string, _ dns01.PreCheckFunc) (bool, error) {
			return txtVisible(ctx, addrs, fqdn, value)
		}))
	}
	wrapped := timedProvider{Provider: prov, timeout: timeout, interval: cfg.PollInterval}
	return dns01.NewChallenge(core, s.validate, wrapped, opts...), nil
}

// timedProvider overrides a provider's propagation timeout and interval.
// It hides the provider's Sequential method from lego; solver reads that
// from the provider itself.
type timedProvider struct {
	challenge.Provider
	timeout, interval time.Duration
}

func (p timedProvider) Timeout() (timeout, interval time.Duration) { return p.timeout, p.interval }

// txtVisible reports whether every resolver in addrs answers value among
// the TXT records of fqdn. A failed lookup is "not yet" (returned as the
// error so that a timeout says why); a cancelled ctx stops the wait.
func txtVisible(ctx context.Context, addrs []string, fqdn, value string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return true, err
	}
	name := strings.TrimSuffix(fqdn, ".") + "."
	for _, addr := range addrs {
		r := &net.Resolver{
			PreferGo: true,
			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			},
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		txts, err := r.LookupTXT(lctx, name)
		cancel()
		if err != nil {
			return false, fmt.Errorf("TXT %s at %s: %w", name, addr, err)
		}
		if !slices.Contains(txts, value) {
			return false, errors.New("TXT " + name + " at " + addr + ": record not there yet")
		}
	}
	return true, nil
}
