package spec

import "testing"

func TestServerDefaultURLs(t *testing.T) {
	cfg, p, diags := load(t, "testdata/valid/server")
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", diagText(p, diags))
	}
	if cfg.Server == nil || cfg.Server.URL != "https://pki.example.com" {
		t.Fatalf("Server = %+v, want the URL without its trailing slash", cfg.Server)
	}
	for name, want := range map[string][3]string{
		"internal": {"https://pki.example.com/.well-known/pki/ca/internal", "https://pki.example.com/.well-known/pki/ocsp/internal", "https://pki.example.com/.well-known/pki/crl/internal"},
		"own":      {"https://pki.example.com/.well-known/pki/ca/own", "https://pki.example.com/.well-known/pki/ocsp/own", "http://crl.example.com/own.crl"},
	} {
		is := cfg.Issuers[name]
		if got := [3]string{is.IssuerURL, is.OCSPURL, is.CRLURL}; got != want {
			t.Errorf("issuer %s URLs = %q, want %q", name, got, want)
		}
	}

	// Without a server block, nothing is filled in.
	cfg, p, diags = load(t, "testdata/valid/minimal")
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", diagText(p, diags))
	}
	if is := cfg.Issuers["ca"]; cfg.Server != nil || is.IssuerURL != "" || is.OCSPURL != "" || is.CRLURL != "" {
		t.Errorf("minimal: Server %+v, URLs %q %q %q", cfg.Server, is.IssuerURL, is.OCSPURL, is.CRLURL)
	}
}
