// Package acme issues certificates from ACME CAs (Let's Encrypt, ZeroSSL,
// step-ca, pebble, …) on top of lego v5 used as a library.
//
// Entry point: [New] builds an [Issuer] from a [Config] and an optional
// stored [Account]; the issuer then serves [Issuer.Issue] (the
// reconciler's issuer contract: a CSR in, a certificate and chain out),
// [Issuer.RenewalInfo] (ARI, RFC 9773) and [Issuer.Revoke].
//
// The leaf's private key never reaches this package: orders are finalized
// with the caller's CSR (lego's ObtainForCSR).
//
// Challenges are solved by one of HTTP-01 (a built-in server on a port, or
// files in a webroot) or DNS-01 through a lego DNS provider chosen by name
// ([Providers] lists them with the settings each reads).
//
// What this package does not do: retries with backoff after a failed order
// and renewal scheduling belong to the reconciler. It only enforces what is
// per issuer: a bound on concurrent orders (Config.MaxConcurrency) and a
// client-side order budget (Config.RateLimit, see [Bucket]).
//
// Tests run against a real ACME server: package acmetest starts pebble and
// pebble-challtestsrv on loopback.
package acme
