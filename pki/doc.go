// Package pki holds certctl's certificate primitives: keys, CSRs,
// certificate inspection and the local CA. It imports nothing of certctl's.
//
// Entry points:
//
//   - Keys: [KeyAlgorithms], [GenerateKey], [MarshalPrivateKeyPEM],
//     [ParsePrivateKeyPEM], [KeyAlgorithmOf].
//   - CSRs: [NewCSR] with a [CSRSubject]; [CSRSubject.WithoutCommonName]
//     for an empty subject.
//   - Inspection: [ParseCertificatePEM], [ParseCertificatesPEM],
//     [EncodeCertificatePEM], [Fingerprint], [SerialHex].
//   - Renewal: [RenewAt], a pure function of the certificate's lifetime.
//   - Local CA: [NewLocalCA] creates a self-signed root, [LoadLocalCA]
//     restores one from PEM, and [LocalCA.Issue] signs leaves for an
//     [IssueRequest] with a CSR, [LocalCA.IssueForKey] for one with a
//     public key and names (no CSR), returning [Issued] ([Issued.Summary]
//     is what a record keeps of it). [LocalCA.WithURLs] adds the
//     AIA and CRL URLs that TLS and S/MIME leaves need to pass zlint.
//   - Revocation: [LocalCA.CRL] signs a CRL of [Revoked] entries,
//     [LocalCA.AnswerOCSP] answers an OCSP request; reasons by name with
//     [ParseRevocationReason]. Both are pure functions of their `now`.
//
// Certificates issued here are meant to pass zlint's default registry with
// no error and no warning (but the subject CN's, when one is asked for);
// the tests enforce it.
package pki
