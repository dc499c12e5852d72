package state

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"

	"go.etcd.io/bbolt"
)

// upgradeV2 turns schema 2 into 3: it adds the revocation buckets, and
// records in each local CA certificate the publication URLs its
// certificate carries (IssuerURL, OCSPURL, CRLURL), read from CertPEM, so
// that the plan can tell when an issuer's URLs changed. Certificates of
// other issuers, or without a certificate, are left as they are.
func upgradeV2(tx *bbolt.Tx) error {
	for _, name := range [][]byte{bucketRevocations, bucketCRLNumbers} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	local := map[string]bool{}
	if b := tx.Bucket(bucketIssuers); b != nil {
		if err := b.ForEach(func(k, v []byte) error {
			iss, err := decodeIssuer(string(k), v)
			if err != nil {
				return err
			}
			local[string(k)] = iss.Type == "local_ca"
			return nil
		}); err != nil {
			return err
		}
	}
	certs, blobs := tx.Bucket(bucketCertificates), tx.Bucket(bucketCertBlobs)
	if certs == nil || blobs == nil {
		return nil
	}
	// Collect first: a bucket must not be written while ForEach walks it.
	updates := map[string][]byte{}
	err := certs.ForEach(func(k, v []byte) error {
		var e certEntry
		if err := unmarshal(v, &e); err != nil {
			return fmt.Errorf("certificate %q: %w", k, err)
		}
		c := e.Cert
		if e.V != certEntryVersion || c == nil {
			return fmt.Errorf("certificate %q: entry version %d, want %d", k, e.V, certEntryVersion)
		}
		bv := blobs.Get(k)
		if !local[c.Issuer] || bv == nil {
			return nil
		}
		parts, err := splitBlobs(bv)
		if err != nil {
			return fmt.Errorf("certificate %q: %w", k, err)
		}
		block, _ := pem.Decode(parts[1])
		if block == nil {
			return nil // nothing to read the URLs from: none recorded
		}
		leaf, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return fmt.Errorf("certificate %q: %w", k, err)
		}
		c.IssuerURL, c.OCSPURL, c.CRLURL = first(leaf.IssuingCertificateURL), first(leaf.OCSPServer), first(leaf.CRLDistributionPoints)
		if c.IssuerURL == "" && c.OCSPURL == "" && c.CRLURL == "" {
			return nil
		}
		meta, err := json.Marshal(certEntry{V: certEntryVersion, Cert: c})
		if err != nil {
			return err
		}
		updates[string(k)] = meta
		return nil
	})
	if err != nil {
		return err
	}
	for k, meta := range updates {
		if err := certs.Put([]byte(k), meta); err != nil {
			return err
		}
	}
	return nil
}

func first(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return ss[0]
}
