package spec

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

var stepCASchema = &hcl.BodySchema{Attributes: attrs(
	"url!", "root!", "provisioner!", "provisioner_key!", "provisioner_password", "for_each",
)}

// decodeStepCA fills a step_ca issuer. Every check is offline and never
// quotes the key or the password: that the password opens the key, and
// that the CA answers, is apply's business.
func decodeStepCA(b *body, is *Issuer) {
	s := &StepCAIssuer{Sensitive: map[string]bool{}}
	is.StepCA = s
	b.require(stepCASchema)

	if v, at, ok := b.str("url"); ok {
		if u, err := url.Parse(v); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			b.errorf(at, "Invalid step-ca URL",
				"%s is not an https:// URL with a host and no path. step-ca serves its API over HTTPS at its root: use its address, such as \"https://ca.example.com:9000\".",
				b.show("url", v))
		} else {
			s.URL = strings.TrimSuffix(v, "/")
		}
	}
	if v, at, ok := b.str("provisioner"); ok {
		if strings.TrimSpace(v) == "" {
			b.errorf(at, "Invalid provisioner", "provisioner must name a JWK provisioner of the CA (`step ca provisioner list` shows them).")
		} else {
			s.Provisioner = v
		}
	}
	b.secretsOK = true
	defer func() { b.secretsOK = false }()
	if v, at, ok := b.str("root"); ok {
		if err := checkPEMBundle(v); err != nil {
			b.errorf(at, "Invalid root",
				"root must hold the CA's root certificate in PEM, usually read with file(\"root_ca.crt\") (`step ca root` prints it): %v.", err)
		} else {
			s.RootPEM = []byte(v)
		}
	}
	key, keyAt, keyOK := b.str("provisioner_key")
	pass, passAt, passOK := b.str("provisioner_password")
	if passOK {
		if pass == "" {
			b.errorf(passAt, "Invalid provisioner password", "provisioner_password must not be empty; remove it when provisioner_key is not encrypted.")
		}
		s.ProvisionerPassword = pass
	}
	if keyOK {
		// Never quote it: it is a secret even when it is malformed.
		switch jwkKind(key) {
		case "jwe":
			if !passOK && passAt == nil {
				b.errorf(keyAt, "Missing provisioner password",
					"provisioner_key is encrypted (a JWE): add provisioner_password, usually read with env(\"STEP_PROVISIONER_PASSWORD\") or file(\"password.txt\").")
			}
			s.ProvisionerKey = key
		case "private":
			if passOK {
				b.errorf(passAt, "Unexpected provisioner password",
					"provisioner_key is a plain private JWK, so there is nothing to decrypt. Remove provisioner_password, or give the encrypted key.")
			}
			s.ProvisionerKey = key
		case "public":
			b.errorf(keyAt, "Invalid provisioner key",
				"provisioner_key is a public JWK. certctl signs tokens with the provisioner's private key: give its encrypted key (the provisioner's \"encryptedKey\" in ca.json, or the file `step crypto jwk create` wrote), usually read with file().")
		default:
			b.errorf(keyAt, "Invalid provisioner key",
				"provisioner_key must be the provisioner's encrypted private key, a JWE (the \"encryptedKey\" of the provisioner in ca.json, or the file `step crypto jwk create` wrote), usually read with file(); or a plain private JWK.")
		}
	}
	for _, k := range []string{"root", "provisioner_key", "provisioner_password"} {
		if b.sensitive[k] {
			s.Sensitive[k] = true
		}
	}
}

// jwkKind tells what a provisioner key looks like without decrypting it:
// "jwe" (compact serialization, or JSON with "protected" and
// "ciphertext"), "private" or "public" (a plain JWK), or "" (none of
// them).
func jwkKind(s string) string {
	s = strings.TrimSpace(s)
	if parts := strings.Split(s, "."); len(parts) == 5 {
		hdr, err := base64.RawURLEncoding.DecodeString(parts[0])
		if err != nil {
			return ""
		}
		var h struct{ Alg, Enc string }
		if json.Unmarshal(hdr, &h) != nil || h.Alg == "" || h.Enc == "" {
			return ""
		}
		return "jwe"
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(s), &obj) != nil {
		return ""
	}
	switch {
	case obj["protected"] != nil && obj["ciphertext"] != nil:
		return "jwe"
	case obj["kty"] != nil && obj["d"] != nil:
		return "private"
	case obj["kty"] != nil:
		return "public"
	}
	return ""
}
