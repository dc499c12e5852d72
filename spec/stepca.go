package spec

// IssuerTypeStepCA is the type label of `issuer "step_ca" "NAME" {}`.
const IssuerTypeStepCA = "step_ca"

// StepCAIssuer is the body of `issuer "step_ca" "NAME" {}`: a smallstep
// step-ca signing through one of its JWK provisioners. The provisioner key
// and its password are always secrets: nothing prints them, whether they
// came from env(), file() or a literal. Sensitive names the attributes
// whose value came from env() or file() ("root", "provisioner_key",
// "provisioner_password").
type StepCAIssuer struct {
	// URL is the CA's address, https://HOST[:PORT], without a path.
	URL string
	// RootPEM holds the CA's root certificate(s), PEM: trusted for the
	// CA's HTTPS, and named (by fingerprint) in every token.
	RootPEM []byte
	// Provisioner is the name of the JWK provisioner in the CA's
	// configuration.
	Provisioner string
	// ProvisionerKey is the provisioner's private JWK: a JWE encrypted
	// with ProvisionerPassword (as step writes it), or plain JSON when
	// ProvisionerPassword is "". Secret.
	ProvisionerKey string
	// ProvisionerPassword decrypts ProvisionerKey. Secret.
	ProvisionerPassword string

	Sensitive map[string]bool
}
