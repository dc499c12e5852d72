// Package stepca issues and revokes certificates at a smallstep step-ca
// through one of its JWK provisioners, speaking the CA's HTTP API
// (POST /1.0/sign, POST /1.0/revoke) with one-time tokens it signs itself.
//
// Entry point: [New] decrypts the provisioner key and trusts the given
// root; it makes no request. [Issuer.Issue] has a CSR signed (the private
// key stays with the caller) and [Issuer.Revoke] revokes a certificate
// passively (the CA records it and publishes it in its CRL, when enabled).
//
// A token is a JWT signed with the provisioner key: iss is the provisioner
// name, aud the endpoint's URL, sub the subject (the serial, for a
// revocation), sans the names the CSR asks for, sha the SHA-256
// fingerprint of the root, and cnf binds it to the CSR. Each token is used
// once and lives five minutes.
//
// The smallstep client library (github.com/smallstep/certificates/ca) is
// not used: it pulls in the whole CA with its KMS, cloud and database
// dependencies, while the two calls certctl needs are a JSON POST each.
package stepca
