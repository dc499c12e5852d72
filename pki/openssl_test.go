package pki

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// opensslVerify runs `openssl verify -x509_strict -CAfile ca.pem [args]
// leaf.pem` and returns its combined output and whether it succeeded.
func opensslVerify(t *testing.T, caPEM, leafPEM []byte, args ...string) (string, bool) {
	t.Helper()
	dir := t.TempDir()
	caFile, leafFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "leaf.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(leafFile, leafPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	argv := append([]string{"verify", "-x509_strict", "-CAfile", caFile}, args...)
	out, err := exec.Command("openssl", append(argv, leafFile)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err == nil
}

func TestOpenSSLVerify(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not on PATH")
	}
	purpose := map[string]string{UsageServerAuth: "sslserver", UsageClientAuth: "sslclient", UsageEmailProtection: "smimesign"}
	for _, caAlg := range []string{ECDSAP384, RSA2048, Ed25519} {
		ca := testCA(t, caAlg)
		for _, alg := range KeyAlgorithms {
			for _, uc := range usageCases {
				iss := issue(t, ca, alg, uc.subj, uc.usages, ninetyDays)
				for _, u := range uc.usages {
					args := []string{"-purpose", purpose[u]}
					if u == UsageServerAuth {
						args = append(args, "-verify_hostname", uc.subj.CommonName)
					}
					if out, ok := opensslVerify(t, ca.CertPEM(), iss.CertPEM, args...); !ok {
						t.Errorf("openssl verify %s leaf from %s CA for %s: %s", alg, caAlg, u, out)
					}
				}
			}
		}
	}

	// A leaf without a subject CN (its SANs critical) verifies too, by
	// its SANs.
	ca := testCA(t, ECDSAP256)
	subj := serverSubj.WithoutCommonName()
	for _, alg := range []string{ECDSAP256, RSA2048} {
		iss := issueForKey(t, ca, alg, subj, []string{UsageServerAuth}, ninetyDays)
		for _, name := range []string{"www.example.com", "example.com"} {
			if out, ok := opensslVerify(t, ca.CertPEM(), iss.CertPEM, "-purpose", "sslserver", "-verify_hostname", name); !ok {
				t.Errorf("openssl verify %s leaf without CN for %s: %s", alg, name, out)
			}
		}
		if out, ok := opensslVerify(t, ca.CertPEM(), iss.CertPEM, "-purpose", "sslserver", "-verify_hostname", "other.example.com"); ok {
			t.Errorf("openssl verify accepted a leaf without CN for a name it lacks: %s", out)
		}
	}

	// The check must be able to fail: another CA's leaf, and a purpose the
	// leaf does not have.
	leaf := issue(t, testCA(t, ECDSAP256), ECDSAP256, serverSubj, []string{UsageServerAuth}, ninetyDays)
	if out, ok := opensslVerify(t, testCA(t, RSA2048).CertPEM(), leaf.CertPEM); ok {
		t.Errorf("openssl verify accepted a leaf against the wrong CA: %s", out)
	}
	if out, ok := opensslVerify(t, testCA(t, ECDSAP256).CertPEM(), leaf.CertPEM, "-purpose", "smimesign"); ok {
		t.Errorf("openssl verify accepted a server leaf for S/MIME: %s", out)
	}
}
