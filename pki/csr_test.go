package pki

import (
	"crypto/x509"
	"net"
	"slices"
	"testing"
)

func TestNewCSR(t *testing.T) {
	ip := net.ParseIP("192.0.2.7")
	tests := []struct {
		name     string
		subj     CSRSubject
		wantDNS  []string
		wantIPs  []net.IP
		wantMail []string
	}{
		{"cn added to dns", CSRSubject{CommonName: "www.example.com", DNSNames: []string{"example.com"}},
			[]string{"www.example.com", "example.com"}, nil, nil},
		{"cn already listed, other case", CSRSubject{CommonName: "WWW.example.com", DNSNames: []string{"example.com", "www.example.com"}},
			[]string{"example.com", "www.example.com"}, nil, nil},
		{"wildcard cn", CSRSubject{CommonName: "*.example.com"}, []string{"*.example.com"}, nil, nil},
		{"ip cn", CSRSubject{CommonName: "192.0.2.7", DNSNames: []string{"a.example.com"}},
			[]string{"a.example.com"}, []net.IP{ip}, nil},
		{"ip cn already listed", CSRSubject{CommonName: "192.0.2.7", IPAddresses: []net.IP{ip}}, nil, []net.IP{ip}, nil},
		{"cn not a name", CSRSubject{CommonName: "Alice Example", EmailAddresses: []string{"alice@example.com"}},
			nil, nil, []string{"alice@example.com"}},
		{"no cn", CSRSubject{DNSNames: []string{"a.example.com"}}, []string{"a.example.com"}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			csr, der, err := NewCSR(testKey(t, ECDSAP256), tc.subj)
			if err != nil {
				t.Fatalf("NewCSR(%+v) error: %v", tc.subj, err)
			}
			if err := csr.CheckSignature(); err != nil {
				t.Errorf("CSR signature does not verify: %v", err)
			}
			parsed, err := x509.ParseCertificateRequest(der)
			if err != nil || !slices.Equal(parsed.Raw, csr.Raw) {
				t.Errorf("DER does not parse to the returned CSR (err %v)", err)
			}
			if csr.Subject.CommonName != tc.subj.CommonName {
				t.Errorf("CN = %q, want %q", csr.Subject.CommonName, tc.subj.CommonName)
			}
			if !slices.Equal(csr.DNSNames, tc.wantDNS) {
				t.Errorf("DNSNames = %q, want %q", csr.DNSNames, tc.wantDNS)
			}
			if !slices.EqualFunc(csr.IPAddresses, tc.wantIPs, net.IP.Equal) {
				t.Errorf("IPAddresses = %v, want %v", csr.IPAddresses, tc.wantIPs)
			}
			if !slices.Equal(csr.EmailAddresses, tc.wantMail) {
				t.Errorf("EmailAddresses = %q, want %q", csr.EmailAddresses, tc.wantMail)
			}
		})
	}
}

func TestNewCSRDoesNotAliasInput(t *testing.T) {
	dns := make([]string, 1, 4)
	dns[0] = "a.example.com"
	if _, _, err := NewCSR(testKey(t, ECDSAP256), CSRSubject{CommonName: "b.example.com", DNSNames: dns}); err != nil {
		t.Fatal(err)
	}
	if dns[0] != "a.example.com" || len(dns) != 1 {
		t.Errorf("NewCSR modified the caller's DNSNames: %q", dns[:cap(dns)])
	}
}

func TestNewCSRNoKey(t *testing.T) {
	if _, _, err := NewCSR(nil, CSRSubject{CommonName: "a.example.com"}); err == nil {
		t.Error("NewCSR(nil key) = nil error, want one")
	}
}
