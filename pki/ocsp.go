package pki

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/ocsp"
)

// DefaultOCSPValidity is how long an OCSP response is valid (nextUpdate -
// thisUpdate) when AnswerOCSP is given zero. Responses are signed on
// request, so it bounds only how long a cached "good" outlives a
// revocation.
const DefaultOCSPValidity = time.Hour

// MaxOCSPRequest is the largest OCSP request AnswerOCSP accepts, and so
// the most an HTTP server needs to read: one CertID with SHA-512 hashes, a
// 20-byte serial, a nonce and a requestor name fit in a few hundred bytes.
const MaxOCSPRequest = 8 << 10

// OCSP certificate statuses, as AnswerOCSP's lookup returns them.
const (
	OCSPGood    = ocsp.Good
	OCSPRevoked = ocsp.Revoked
	OCSPUnknown = ocsp.Unknown
)

// OCSPStatus is what a CA knows about one serial.
type OCSPStatus struct {
	// Status is OCSPGood (the CA issued it and has not revoked it),
	// OCSPRevoked or OCSPUnknown (not issued by this CA, as far as it
	// knows).
	Status int
	// RevokedAt and Reason (an RFC 5280 code) describe a revocation.
	RevokedAt time.Time
	Reason    int
}

// Errors of AnswerOCSP; its response says the same to the client.
var (
	// ErrOCSPMalformed: the request did not parse (malformedRequest).
	ErrOCSPMalformed = errors.New("malformed OCSP request")
	// ErrOCSPUnauthorized: the request names another CA (unauthorized,
	// RFC 5019 section 2.2.3).
	ErrOCSPUnauthorized = errors.New("OCSP request for a certificate of another CA")
)

// OCSPAnswer is AnswerOCSP's result.
type OCSPAnswer struct {
	// DER is the OCSPResponse to send, always set: a signed response, or
	// one of the unsigned error responses (malformedRequest,
	// unauthorized, internalError).
	DER []byte
	// Serial and Status are those of the signed response (Status -1 when
	// DER is an error response); NextUpdate bounds how long it may be
	// cached (RFC 5019 section 6.2).
	Serial     *big.Int
	Status     int
	NextUpdate time.Time
}

// AnswerOCSP answers a DER OCSP request (RFC 6960) about a certificate of
// this CA. The response is signed by the CA key itself (no delegated
// responder), carries thisUpdate (now minus Backdate) and nextUpdate
// (validity later; zero: DefaultOCSPValidity) and hashes the CertID with
// the request's hash algorithm, so it matches the request. Only the
// request's first CertID is answered; a nonce is not echoed (RFC 5019
// allows it). lookup gives the serial's status.
//
// The answer's DER is always something to send. err is ErrOCSPMalformed,
// ErrOCSPUnauthorized or a signing failure (Ed25519 CA keys cannot sign
// OCSP responses with golang.org/x/crypto/ocsp: internalError), wrapped.
func (ca *LocalCA) AnswerOCSP(reqDER []byte, lookup func(serial *big.Int) OCSPStatus, now time.Time, validity time.Duration) (OCSPAnswer, error) {
	fail := func(resp []byte, err error) (OCSPAnswer, error) {
		return OCSPAnswer{DER: resp, Status: -1}, err
	}
	if len(reqDER) > MaxOCSPRequest {
		return fail(ocsp.MalformedRequestErrorResponse, fmt.Errorf("%w: %d bytes (at most %d)", ErrOCSPMalformed, len(reqDER), MaxOCSPRequest))
	}
	req, err := ocsp.ParseRequest(reqDER)
	if err != nil {
		return fail(ocsp.MalformedRequestErrorResponse, fmt.Errorf("%w: %v", ErrOCSPMalformed, err))
	}
	if req.SerialNumber == nil || req.SerialNumber.Sign() <= 0 {
		return fail(ocsp.MalformedRequestErrorResponse, fmt.Errorf("%w: no positive serial", ErrOCSPMalformed))
	}
	nameHash, keyHash, err := ca.issuerHashes(req.HashAlgorithm)
	if err != nil {
		return fail(ocsp.MalformedRequestErrorResponse, fmt.Errorf("%w: %v", ErrOCSPMalformed, err))
	}
	if !bytes.Equal(req.IssuerNameHash, nameHash) || !bytes.Equal(req.IssuerKeyHash, keyHash) {
		return fail(ocsp.UnauthorizedErrorResponse, fmt.Errorf("%w (serial %s)", ErrOCSPUnauthorized, req.SerialNumber.Text(16)))
	}
	if now.IsZero() {
		return fail(ocsp.InternalErrorErrorResponse, errors.New("answering OCSP: no time given"))
	}
	if validity <= 0 {
		validity = DefaultOCSPValidity
	}
	if _, ok := ca.key.Public().(ed25519.PublicKey); ok {
		return fail(ocsp.InternalErrorErrorResponse, fmt.Errorf("answering OCSP for %q: an Ed25519 CA cannot sign OCSP responses (use its CRL)", ca.cert.Subject.CommonName))
	}
	st := lookup(req.SerialNumber)
	// Backdated like a CRL, but never before the revocation it reports
	// (as CRLThisUpdate keeps the CRL's).
	var revoked []Revoked
	if st.Status == OCSPRevoked {
		revoked = []Revoked{{RevokedAt: st.RevokedAt}}
	}
	thisUpdate := CRLThisUpdate(revoked, now)
	tmpl := ocsp.Response{
		Status:       st.Status,
		SerialNumber: req.SerialNumber,
		ThisUpdate:   thisUpdate,
		NextUpdate:   thisUpdate.Add(validity),
		IssuerHash:   req.HashAlgorithm,
	}
	if st.Status == OCSPRevoked {
		tmpl.RevokedAt = st.RevokedAt.UTC().Truncate(time.Second)
		tmpl.RevocationReason = st.Reason
	}
	der, err := ocsp.CreateResponse(ca.cert, ca.cert, tmpl, ca.key)
	if err != nil {
		return fail(ocsp.InternalErrorErrorResponse, fmt.Errorf("signing OCSP response of %q: %w", ca.cert.Subject.CommonName, err))
	}
	return OCSPAnswer{DER: der, Serial: req.SerialNumber, Status: st.Status, NextUpdate: tmpl.NextUpdate}, nil
}

// issuerHashes are the CertID hashes of this CA (RFC 6960 section 4.1.1):
// of its DER subject, and of its public key's bit string.
func (ca *LocalCA) issuerHashes(h crypto.Hash) (name, key []byte, err error) {
	if h == 0 || !h.Available() {
		return nil, nil, fmt.Errorf("hash algorithm %v not available", h)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(ca.cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil, nil, err
	}
	hh := h.New()
	hh.Write(ca.cert.RawSubject)
	name = hh.Sum(nil)
	hh.Reset()
	hh.Write(spki.PublicKey.RightAlign())
	return name, hh.Sum(nil), nil
}
