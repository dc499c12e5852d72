package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

func TestParseRevocationReason(t *testing.T) {
	for i, name := range RevocationReasons {
		code, err := ParseRevocationReason(name)
		if err != nil {
			t.Fatalf("ParseRevocationReason(%q) error: %v", name, err)
		}
		if got := RevocationReasonName(code); got != name {
			t.Errorf("RevocationReasonName(%d) = %q, want %q", code, got, name)
		}
		if i > 0 {
			prev, _ := ParseRevocationReason(RevocationReasons[i-1])
			if prev >= code {
				t.Errorf("RevocationReasons not in code order at %q", name)
			}
		}
	}
	if code, err := ParseRevocationReason("KEYCOMPROMISE"); err != nil || code != ReasonKeyCompromise {
		t.Errorf("ParseRevocationReason(KEYCOMPROMISE) = %d, %v, want 1", code, err)
	}
	for _, bad := range []string{"", "certificateHold", "compromised"} {
		if _, err := ParseRevocationReason(bad); err == nil || !strings.Contains(err.Error(), "keyCompromise") {
			t.Errorf("ParseRevocationReason(%q) = %v, want an error listing the reasons", bad, err)
		}
	}
	if got := RevocationReasonName(6); got != "reason 6" {
		t.Errorf("RevocationReasonName(6) = %q", got)
	}
}

func TestCRL(t *testing.T) {
	for _, alg := range []string{ECDSAP256, ECDSAP384, RSA2048, Ed25519} {
		ca := testCA(t, alg)
		revoked := []Revoked{
			{Serial: big.NewInt(0x0abc), RevokedAt: testNow.Add(-time.Hour), Reason: ReasonKeyCompromise, NotAfter: testNow.Add(time.Hour)},
			{Serial: big.NewInt(0x01), RevokedAt: testNow.Add(-2 * time.Hour), Reason: ReasonUnspecified},
			// expired before thisUpdate: left out
			{Serial: big.NewInt(0x77), RevokedAt: testNow.Add(-48 * time.Hour), Reason: ReasonSuperseded, NotAfter: testNow.Add(-2 * time.Minute)},
		}
		der, err := ca.CRL(revoked, 7, testNow, 0)
		if err != nil {
			t.Fatalf("CRL(%s) error: %v", alg, err)
		}
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatalf("CRL(%s) does not parse: %v", alg, err)
		}
		if err := crl.CheckSignatureFrom(ca.Certificate()); err != nil {
			t.Errorf("CRL(%s) signature: %v", alg, err)
		}
		if crl.Number.Int64() != 7 {
			t.Errorf("CRL(%s) number = %v, want 7", alg, crl.Number)
		}
		if want := testNow.Add(-Backdate); !crl.ThisUpdate.Equal(want) || !crl.NextUpdate.Equal(want.Add(DefaultCRLValidity)) {
			t.Errorf("CRL(%s) thisUpdate, nextUpdate = %v, %v, want %v and a day later", alg, crl.ThisUpdate, crl.NextUpdate, want)
		}
		if !bytes.Equal(crl.AuthorityKeyId, ca.Certificate().SubjectKeyId) {
			t.Errorf("CRL(%s) authority key id = %x, want %x", alg, crl.AuthorityKeyId, ca.Certificate().SubjectKeyId)
		}
		got := crl.RevokedCertificateEntries
		if len(got) != 2 || got[0].SerialNumber.Int64() != 1 || got[1].SerialNumber.Int64() != 0xabc {
			t.Fatalf("CRL(%s) entries = %+v, want serials 01 and 0abc in order", alg, got)
		}
		if got[1].ReasonCode != ReasonKeyCompromise || !got[1].RevocationTime.Equal(testNow.Add(-time.Hour)) {
			t.Errorf("CRL(%s) entry 0abc = %+v", alg, got[1])
		}
		for _, ext := range got[0].Extensions {
			if ext.Id.String() == "2.5.29.21" {
				t.Errorf("CRL(%s): an unspecified reason has a reasonCode extension", alg)
			}
		}
	}

	ca := testCA(t, ECDSAP256)
	if _, err := ca.CRL(nil, 1, time.Time{}, 0); err == nil {
		t.Error("CRL without a time: no error")
	}
	if _, err := ca.CRL([]Revoked{{Serial: big.NewInt(0)}}, 1, testNow, 0); err == nil {
		t.Error("CRL with serial 0: no error")
	}
	if der, err := ca.CRL(nil, 1, testNow, time.Hour); err != nil {
		t.Errorf("empty CRL: %v", err)
	} else if crl, _ := x509.ParseRevocationList(der); crl == nil || len(crl.RevokedCertificateEntries) != 0 || crl.NextUpdate.Sub(crl.ThisUpdate) != time.Hour {
		t.Errorf("empty CRL with validity 1h = %+v", crl)
	}
}

func TestCRLThisUpdate(t *testing.T) {
	for _, tc := range []struct {
		revokedAt, want time.Time
	}{
		{time.Time{}, testNow.Add(-Backdate)},
		{testNow.Add(-time.Hour), testNow.Add(-Backdate)},
		{testNow.Add(-30*time.Second + 300*time.Millisecond), testNow.Add(-30 * time.Second)},
		{testNow.Add(time.Hour), testNow}, // a clock that went back: never after now
	} {
		if got := CRLThisUpdate([]Revoked{{RevokedAt: tc.revokedAt}}, testNow); !got.Equal(tc.want) {
			t.Errorf("CRLThisUpdate(revoked at %v) = %v, want %v", tc.revokedAt, got, tc.want)
		}
	}
}

func TestRefreshCRLAt(t *testing.T) {
	this := testNow
	if got, want := RefreshCRLAt(this, this.Add(24*time.Hour)), this.Add(12*time.Hour); !got.Equal(want) {
		t.Errorf("RefreshCRLAt = %v, want %v", got, want)
	}
}

// TestCRLOpenSSL has openssl read the CRL and check a revoked leaf
// against it.
func TestCRLOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not on PATH")
	}
	ca := testCA(t, ECDSAP384)
	revokedLeaf := issue(t, ca, ECDSAP256, serverSubj, []string{UsageServerAuth}, ninetyDays)
	goodLeaf := issue(t, ca, ECDSAP256, serverSubj, []string{UsageServerAuth}, ninetyDays)
	der, err := ca.CRL([]Revoked{{Serial: revokedLeaf.Leaf.SerialNumber, RevokedAt: testNow, Reason: ReasonKeyCompromise, NotAfter: revokedLeaf.Leaf.NotAfter}}, 42, testNow, 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	crlFile := filepath.Join(dir, "ca.crl")
	if err := os.WriteFile(crlFile, der, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "crl", "-inform", "DER", "-in", crlFile, "-noout", "-text").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl crl: %v\n%s", err, out)
	}
	text := string(out)
	serial := strings.ToUpper(SerialHex(revokedLeaf.Leaf))
	for _, want := range []string{"Serial Number: " + serial, "Key Compromise", "X509v3 CRL Number: \n                42", "Authority Key Identifier"} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl crl -text lacks %q:\n%s", want, text)
		}
	}
	pemCRL := filepath.Join(dir, "crl.pem")
	if out, err := exec.Command("openssl", "crl", "-inform", "DER", "-in", crlFile, "-out", pemCRL).CombinedOutput(); err != nil {
		t.Fatalf("openssl crl -out: %v\n%s", err, out)
	}
	if out, ok := opensslVerify(t, ca.CertPEM(), goodLeaf.CertPEM, "-crl_check", "-CRLfile", pemCRL); !ok {
		t.Errorf("openssl verify -crl_check of a good leaf: %s", out)
	}
	if out, ok := opensslVerify(t, ca.CertPEM(), revokedLeaf.CertPEM, "-crl_check", "-CRLfile", pemCRL); ok || !strings.Contains(out, "revoked") {
		t.Errorf("openssl verify -crl_check of a revoked leaf succeeded or said no 'revoked': %s", out)
	}
}

func TestAnswerOCSP(t *testing.T) {
	ca := testCA(t, ECDSAP256)
	good := issue(t, ca, ECDSAP256, serverSubj, []string{UsageServerAuth}, ninetyDays).Leaf
	revoked := issue(t, ca, ECDSAP256, serverSubj, []string{UsageServerAuth}, ninetyDays).Leaf
	revokedAt := testNow.Add(-time.Hour)
	lookup := func(s *big.Int) OCSPStatus {
		switch s.Cmp(revoked.SerialNumber) {
		case 0:
			return OCSPStatus{Status: OCSPRevoked, RevokedAt: revokedAt, Reason: ReasonKeyCompromise}
		}
		if s.Cmp(good.SerialNumber) == 0 {
			return OCSPStatus{Status: OCSPGood}
		}
		return OCSPStatus{Status: OCSPUnknown}
	}
	other := issue(t, testCA(t, RSA2048), ECDSAP256, serverSubj, []string{UsageServerAuth}, ninetyDays).Leaf
	unknown := *good
	unknown.SerialNumber = big.NewInt(12345)

	for _, tc := range []struct {
		name   string
		cert   *x509.Certificate
		hash   crypto.Hash
		status int
	}{
		{"good", good, crypto.SHA1, OCSPGood},
		{"good/sha256", good, crypto.SHA256, OCSPGood},
		{"revoked", revoked, crypto.SHA1, OCSPRevoked},
		{"unknown", &unknown, crypto.SHA1, OCSPUnknown},
	} {
		req, err := ocsp.CreateRequest(tc.cert, ca.Certificate(), &ocsp.RequestOptions{Hash: tc.hash})
		if err != nil {
			t.Fatal(err)
		}
		ans, err := ca.AnswerOCSP(req, lookup, testNow, 0)
		if err != nil {
			t.Fatalf("AnswerOCSP(%s) error: %v", tc.name, err)
		}
		resp, err := ocsp.ParseResponseForCert(ans.DER, tc.cert, ca.Certificate())
		if err != nil {
			t.Fatalf("AnswerOCSP(%s): response does not parse or verify: %v", tc.name, err)
		}
		if resp.Status != tc.status || ans.Status != tc.status {
			t.Errorf("AnswerOCSP(%s) status = %d (answer %d), want %d", tc.name, resp.Status, ans.Status, tc.status)
		}
		if resp.SerialNumber.Cmp(tc.cert.SerialNumber) != 0 || resp.IssuerHash != tc.hash {
			t.Errorf("AnswerOCSP(%s) = serial %v hash %v", tc.name, resp.SerialNumber, resp.IssuerHash)
		}
		if want := testNow.Add(-Backdate); !resp.ThisUpdate.Equal(want) || !resp.NextUpdate.Equal(want.Add(DefaultOCSPValidity)) || !ans.NextUpdate.Equal(resp.NextUpdate) {
			t.Errorf("AnswerOCSP(%s) thisUpdate, nextUpdate = %v, %v", tc.name, resp.ThisUpdate, resp.NextUpdate)
		}
		if tc.status == OCSPRevoked && (!resp.RevokedAt.Equal(revokedAt) || resp.RevocationReason != ReasonKeyCompromise) {
			t.Errorf("AnswerOCSP(revoked) = revoked at %v reason %d", resp.RevokedAt, resp.RevocationReason)
		}
	}

	// Revoked a moment ago: thisUpdate is not backdated before the
	// revocation it reports.
	recent := testNow.Add(-10 * time.Second)
	req, err := ocsp.CreateRequest(revoked, ca.Certificate(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := ca.AnswerOCSP(req, func(*big.Int) OCSPStatus {
		return OCSPStatus{Status: OCSPRevoked, RevokedAt: recent, Reason: ReasonKeyCompromise}
	}, testNow, 0)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ocsp.ParseResponseForCert(ans.DER, revoked, ca.Certificate())
	if err != nil {
		t.Fatal(err)
	}
	if resp.ThisUpdate.Before(resp.RevokedAt) {
		t.Errorf("AnswerOCSP(revoked 10 s ago): thisUpdate %v before the revocation %v", resp.ThisUpdate, resp.RevokedAt)
	}

	// Another CA's certificate: unauthorized; garbage: malformedRequest.
	req, _ = ocsp.CreateRequest(other, testCA(t, RSA2048).Certificate(), nil)
	ans, err = ca.AnswerOCSP(req, lookup, testNow, 0)
	if !errors.Is(err, ErrOCSPUnauthorized) || !bytes.Equal(ans.DER, ocsp.UnauthorizedErrorResponse) {
		t.Errorf("AnswerOCSP(another CA) = %x, %v, want unauthorized", ans.DER, err)
	}
	for _, bad := range [][]byte{nil, []byte("hello"), bytes.Repeat([]byte{0x30}, MaxOCSPRequest+1)} {
		ans, err := ca.AnswerOCSP(bad, lookup, testNow, 0)
		if !errors.Is(err, ErrOCSPMalformed) || !bytes.Equal(ans.DER, ocsp.MalformedRequestErrorResponse) {
			t.Errorf("AnswerOCSP(%.10q) = %x, %v, want malformedRequest", bad, ans.DER, err)
		}
		if _, perr := ocsp.ParseResponse(ans.DER, nil); perr == nil {
			t.Errorf("the malformedRequest response parses as a success")
		}
	}

	// An Ed25519 CA: internalError, not a panic or a bad signature.
	ed := testCA(t, Ed25519)
	edLeaf := issue(t, ed, ECDSAP256, serverSubj, []string{UsageServerAuth}, ninetyDays).Leaf
	req, _ = ocsp.CreateRequest(edLeaf, ed.Certificate(), nil)
	ans, err = ed.AnswerOCSP(req, lookup, testNow, 0)
	if err == nil || !bytes.Equal(ans.DER, ocsp.InternalErrorErrorResponse) {
		t.Errorf("AnswerOCSP(Ed25519 CA) = %x, %v, want internalError", ans.DER, err)
	}
}

func BenchmarkAnswerOCSP(b *testing.B) {
	ca := testCA(b, ECDSAP256)
	leaf := issue(b, ca, ECDSAP256, serverSubj, []string{UsageServerAuth}, ninetyDays).Leaf
	req, err := ocsp.CreateRequest(leaf, ca.Certificate(), nil)
	if err != nil {
		b.Fatal(err)
	}
	lookup := func(*big.Int) OCSPStatus { return OCSPStatus{Status: OCSPGood} }
	for b.Loop() {
		if _, err := ca.AnswerOCSP(req, lookup, testNow, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCRL10k signs a CRL of 10,000 entries.
func BenchmarkCRL10k(b *testing.B) {
	ca := testCA(b, ECDSAP256)
	revoked := make([]Revoked, 10000)
	for i := range revoked {
		revoked[i] = Revoked{Serial: big.NewInt(int64(i + 1)), RevokedAt: testNow, Reason: ReasonKeyCompromise}
	}
	for b.Loop() {
		if _, err := ca.CRL(revoked, 1, testNow, 0); err != nil {
			b.Fatal(err)
		}
	}
}
