package reconcile

import (
	"fmt"
	"time"

	"github.com/certctl/certctl/pki"
	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// PlanRevoke plans `certctl revoke NAME -reason R`: one revoke change for
// the current certificate of name, a certificate of cfg. Apply revokes it
// at its ACME CA, or puts it in its local CA's CRL and OCSP, and marks
// the record revoked; the next Plan replaces it ("revoked at …: a new
// certificate is needed"). reason is an RFC 5280 name from
// pki.RevocationReasons. It fails when name is not in cfg, has no
// certificate, is revoked already or expired, or when the issuer that
// issued it is no longer in cfg. Pure, like Plan.
func PlanRevoke(cfg *spec.Config, snap *state.Snapshot, now time.Time, name, reason string) (*ActionPlan, error) {
	code, err := pki.ParseRevocationReason(reason)
	if err != nil {
		return nil, err
	}
	if cfg.Certificates[name] == nil {
		return nil, fmt.Errorf("no certificate named %q in the configuration", name)
	}
	addr := CertAddress(name)
	var rec *state.Certificate
	if snap != nil {
		rec = snap.Certificates[name]
	}
	switch {
	case rec == nil || rec.Fingerprint == "":
		return nil, fmt.Errorf("%s has no certificate to revoke: none has been issued", addr)
	case !rec.RevokedAt.IsZero():
		return nil, fmt.Errorf("%s (serial %s) was revoked at %s (%s) already; the next apply issues a new certificate", addr, rec.Serial, ts(rec.RevokedAt), pki.RevocationReasonName(rec.RevokedReason))
	case !now.Before(rec.NotAfter):
		return nil, fmt.Errorf("%s (serial %s) expired at %s: there is nothing to revoke", addr, rec.Serial, ts(rec.NotAfter))
	case cfg.Issuers[rec.Issuer] == nil:
		return nil, fmt.Errorf("%s was issued by %s, which is no longer in the configuration: certctl cannot revoke it", addr, IssuerAddress(rec.Issuer))
	}
	name2 := pki.RevocationReasonName(code) // as RFC 5280 spells it
	where := "at " + IssuerAddress(rec.Issuer)
	if cfg.Issuers[rec.Issuer].Type == spec.IssuerTypeLocalCA {
		where = "in the CRL and OCSP of " + IssuerAddress(rec.Issuer)
	}
	p := plan(cfg, snap, nil, now, "")
	p.Changes = []Change{{
		Address: addr, Kind: KindCertificate, Name: name, Action: ActionRevoke,
		Reason:           fmt.Sprintf("certctl revoke (%s): serial %s revoked %s; the next apply issues a new certificate", name2, rec.Serial, where),
		Prior:            rec.Fingerprint,
		NotAfter:         rec.NotAfter,
		RevocationReason: name2,
	}}
	p.Notes = nil
	p.Summary = Summary{}
	p.Summary.add(ActionRevoke)
	return p, nil
}
