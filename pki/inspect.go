package pki

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
)

// ParseCertificatePEM returns the first CERTIFICATE block of data, skipping
// blocks of other types. It is an error if there is none.
func ParseCertificatePEM(data []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("parsing certificate: no CERTIFICATE PEM block found")
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate: %w", err)
		}
		return cert, nil
	}
}

// ParseCertificatesPEM returns every CERTIFICATE block of data in order,
// skipping blocks of other types. Empty input gives an empty result and no
// error; one unparsable certificate fails the whole call.
func ParseCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return certs, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
}

// EncodeCertificatePEM wraps a DER certificate in a CERTIFICATE PEM block.
func EncodeCertificatePEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// Fingerprint is the lowercase hex SHA-256 of the certificate's DER, as
// `openssl x509 -fingerprint -sha256` prints it without the colons.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// SerialHex is the certificate's serial number in lowercase hex, in whole
// bytes as openssl prints it ("01", "0abc"), so that the two can be
// compared by eye or by grep.
func SerialHex(cert *x509.Certificate) string {
	return SerialHexOf(cert.SerialNumber)
}

// SerialHexOf is SerialHex of a bare serial number ("" for nil): how an
// OCSP request's serial is matched with the records.
func SerialHexOf(n *big.Int) string {
	if n == nil {
		return ""
	}
	s := n.Text(16)
	if len(s)%2 == 1 {
		s = "0" + s
	}
	return s
}
