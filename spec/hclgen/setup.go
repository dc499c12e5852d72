package hclgen

// Setup is what `certctl init` asks for: one CA, the first team, owner and
// policy, and a first certificate. Empty optional fields are left out of
// the file (the language's defaults apply).
type Setup struct {
	// CA is "local" (a local_ca issuer) or "acme".
	CA     string
	Issuer string // the issuer's name
	// CACommonName is a local CA's common name (optional).
	CACommonName string
	// ACMEDirectory and ACMEEmail (optional) are an acme issuer's.
	ACMEDirectory, ACMEEmail string
	// Challenge is "http-01" (on HTTPPort) or "dns-01" (with DNSProvider,
	// whose settings come from the environment).
	Challenge   string
	HTTPPort    int
	DNSProvider string

	Team, Owner, OwnerEmail, Policy string
	AllowedDomains                  []string

	Certificate, CommonName string
	DNSNames                []string
	// TargetDir, if set, declares a file target "files" writing there,
	// and the certificate deploys to it.
	TargetDir string
}

// Setup CA kinds and challenges.
const (
	CALocal    = "local"
	CAACME     = "acme"
	ChallHTTP  = "http-01"
	ChallDNS   = "dns-01"
	targetName = "files"
)

// File returns the configuration file for s, in canonical layout.
func (s *Setup) File() []byte {
	f := NewFile()
	f.Comment("certctl configuration, written by certctl init. Run certctl validate,\nthen certctl plan and certctl apply.")
	f.Block("certctl").String("state", ".certctl/state.db")
	f.Block("team", s.Team)
	o := f.Block("owner", s.Owner)
	if s.OwnerEmail != "" {
		o.String("email", s.OwnerEmail)
	}
	o.Ref("team", "team", s.Team)

	p := f.Block("policy", s.Policy)
	p.String("key_algorithm", "ecdsa-p256")
	p.String("renew_before", "33%")
	p.Strings("allowed_domains", s.AllowedDomains)
	p.Strings("notify_before", []string{"30d", "14d", "7d", "0d"})

	switch s.CA {
	case CAACME:
		f.Comment("Configuring an ACME issuer accepts the CA's terms of service.")
		is := f.Block("issuer", "acme", s.Issuer)
		is.String("directory", s.ACMEDirectory)
		if s.ACMEEmail != "" {
			is.String("email", s.ACMEEmail)
		}
		if s.Challenge == ChallDNS {
			is.Block("dns01").String("provider", s.DNSProvider)
		} else {
			is.Block("http01").Int("port", int64(s.HTTPPort))
		}
	default:
		is := f.Block("issuer", "local_ca", s.Issuer)
		if s.CACommonName != "" {
			is.String("common_name", s.CACommonName)
		}
	}
	if s.TargetDir != "" {
		f.Block("target", "file", targetName).String("dir", s.TargetDir)
	}

	c := f.Block("certificate", s.Certificate)
	c.String("common_name", s.CommonName)
	c.Strings("dns_names", s.DNSNames)
	c.Ref("issuer", "issuer", s.Issuer)
	c.Ref("policy", "policy", s.Policy)
	c.Ref("owner", "owner", s.Owner)
	c.Ref("team", "team", s.Team)
	if s.TargetDir != "" {
		c.Refs("targets", "target", []string{targetName})
	}
	return f.Bytes()
}
