package diff

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"
)

// A step_ca issuer's provisioner key and password are secrets however
// they are written: a change to them says "(sensitive)" and no more,
// while the URL and provisioner name show.
func TestStepCASecretsNeverShown(t *testing.T) {
	issuer := func(v string) string {
		return `
issuer "step_ca" "ca" {
  url                  = "https://ca-` + v + `.example.com"
  root                 = file("root.pem")
  provisioner          = "prov-` + v + `"
  provisioner_key      = "{\"protected\":\"eyJhbGciOiJQQkVTMiJ9\",\"ciphertext\":\"key-` + v + `\"}"
  provisioner_password = "pass-` + v + `"
}
`
	}
	base := with(baseHCL, "root.pem", testRootPEM(t), "stepca.hcl", issuer("one1"))
	head := with(base, "stepca.hcl", issuer("two2"))
	d := compareFiles(t, base, head)
	if got := ops(d); !slices.Equal(got, []opAddr{{OpUpdate, "issuer.ca"}}) {
		t.Fatalf("changes = %v; want issuer.ca updated", got)
	}
	assertNoSecrets(t, d, "key-one1", "key-two2", "pass-one1", "pass-two2")
	var b strings.Builder
	for _, ch := range d.Changes {
		for _, a := range ch.Diffs {
			b.WriteString(a.Attribute + " ")
		}
	}
	for _, want := range []string{"url", "provisioner", "provisioner_key", "provisioner_password"} {
		if !slices.Contains(strings.Fields(b.String()), want) {
			t.Errorf("changed attributes %q lack %s", b.String(), want)
		}
	}
}

func testRootPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test root"}, NotBefore: t0, NotAfter: t0.Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// Another root under a step_ca issuer is another CA: the diff says its
// certificates are replaced, as the plan will.
func TestStepCARootChangeReplaces(t *testing.T) {
	issuer := `
issuer "step_ca" "step" {
  url             = "https://ca.example.com"
  root            = file("root.pem")
  provisioner     = "p"
  provisioner_key = "{\"kty\":\"EC\",\"d\":\"x\"}"
}
certificate "svc" {
  common_name = "svc.example.com"
  issuer      = issuer.step
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}
`
	base := with(baseHCL, "root.pem", testRootPEM(t), "stepca.hcl", issuer)
	head := with(base, "root.pem", testRootPEM(t))
	d := compareFiles(t, base, head)
	if got := ops(d); !slices.Equal(got, []opAddr{{OpReplace, "issuer.step"}, {OpReplace, "certificate.svc"}}) {
		t.Fatalf("changes = %v; want the issuer and its certificate replaced", got)
	}
	for _, ch := range d.Changes {
		if ch.Address == "issuer.step" && (!slices.Equal(ch.Forces, []string{"root"}) || !strings.Contains(ch.Reason, "another CA")) {
			t.Errorf("issuer.step: forces %v, reason %q", ch.Forces, ch.Reason)
		}
	}
	// The same root written again (another PEM file, same certificate):
	// nothing to replace.
	head = with(base, "root.pem", "\n"+base["root.pem"])
	if got := ops(compareFiles(t, base, head)); slices.Contains(got, opAddr{OpReplace, "certificate.svc"}) {
		t.Errorf("the same root replaced the certificate: %v", got)
	}
}
