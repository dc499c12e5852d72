package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Key algorithm names, as written in policies and issuers.
const (
	ECDSAP256 = "ecdsa-p256"
	ECDSAP384 = "ecdsa-p384"
	RSA2048   = "rsa-2048"
	RSA3072   = "rsa-3072"
	RSA4096   = "rsa-4096"
	Ed25519   = "ed25519"
)

// KeyAlgorithms lists every key algorithm GenerateKey accepts, in the order
// they are documented. Callers must not modify it.
var KeyAlgorithms = []string{ECDSAP256, ECDSAP384, RSA2048, RSA3072, RSA4096, Ed25519}

// GenerateKey returns a new private key of the named algorithm (one of
// KeyAlgorithms). An unknown name is an error that quotes it.
func GenerateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case RSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case RSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	case Ed25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		return k, nil
	}
	return nil, fmt.Errorf("unknown key algorithm %q (want one of %s)", alg, strings.Join(KeyAlgorithms, ", "))
}

// KeyAlgorithmOf names the algorithm of a public key as in KeyAlgorithms,
// or returns "" for a key of any other type or size. A private key (a
// crypto.Signer) is accepted too and named by its public half.
func KeyAlgorithmOf(pub crypto.PublicKey) string {
	if s, ok := pub.(crypto.Signer); ok {
		pub = s.Public()
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ECDSAP256
		case elliptic.P384():
			return ECDSAP384
		}
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return RSA2048
		case 3072:
			return RSA3072
		case 4096:
			return RSA4096
		}
	case ed25519.PublicKey:
		return Ed25519
	}
	return ""
}

// MarshalPrivateKeyPEM encodes a private key as a PKCS #8 "PRIVATE KEY" PEM
// block. The result is secret: never log or print it.
func MarshalPrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshaling private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKeyPEM decodes the first private key PEM block of data. It
// accepts PKCS #8 ("PRIVATE KEY") and, for keys written by other tools,
// PKCS #1 ("RSA PRIVATE KEY") and SEC 1 ("EC PRIVATE KEY", skipping an "EC
// PARAMETERS" block before it, as `openssl ecparam -genkey` writes). Errors
// never include the key material.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	var block *pem.Block
	for {
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("parsing private key: no PEM block found")
		}
		if block.Type != "EC PARAMETERS" {
			break
		}
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("parsing private key: unexpected PEM block type %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing private key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("parsing private key: %T is not a signing key", key)
	}
	return signer, nil
}
