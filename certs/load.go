package certs

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// Source says where a signing identity's files are. Set either P12File (with
// P12Password) or CertFile and KeyFile (PEM), not both.
type Source struct {
	P12File     string
	P12Password string
	CertFile    string // PEM certificate (may also contain the chain)
	KeyFile     string // PEM private key: PKCS#1, PKCS#8 or EC; unencrypted
	WWDRFile    string // Apple WWDR intermediate (G4 in production), PEM or DER
}

// Identity is a loaded signing identity: the pass certificate, its key and
// the WWDR intermediate that issued it.
type Identity struct {
	Leaf *x509.Certificate
	Key  crypto.Signer
	WWDR *x509.Certificate
}

// passTypeIDPrefix starts the common name of an Apple pass certificate.
const passTypeIDPrefix = "Pass Type ID: "

// Load reads the identity described by src and checks that it hangs
// together. It returns an error naming the file if a file cannot be read or
// parsed, if src sets both or neither of P12File and CertFile/KeyFile, if the
// key does not match the leaf certificate, or if the leaf was not signed by
// the WWDR certificate (usually the wrong WWDR generation).
//
// If WWDRFile is empty, the WWDR is taken from the chain in the P12 or PEM
// certificate file: the first certificate there that signed the leaf. Load
// returns an error if there is none.
func Load(src Source) (*Identity, error) {
	var (
		leaf   *x509.Certificate
		key    crypto.Signer
		chain  []*x509.Certificate
		err    error
		origin string // the file the leaf came from, for error messages
	)
	pemSet := src.CertFile != "" || src.KeyFile != ""
	switch {
	case src.P12File != "" && pemSet:
		return nil, errors.New("certs: load: set either the P12 file or the PEM certificate and key files, not both")
	case src.P12File != "":
		origin = src.P12File
		leaf, key, chain, err = LoadP12(src.P12File, src.P12Password)
	case src.CertFile != "" && src.KeyFile != "":
		origin = src.CertFile
		leaf, key, chain, err = LoadPEMPair(src.CertFile, src.KeyFile)
	case pemSet:
		return nil, errors.New("certs: load: the PEM certificate and key files must both be set")
	default:
		return nil, errors.New("certs: load: no P12 file or PEM certificate and key files set")
	}
	if err != nil {
		return nil, err
	}

	var wwdr *x509.Certificate
	if src.WWDRFile != "" {
		if wwdr, err = LoadCertificate(src.WWDRFile); err != nil {
			return nil, err
		}
		if err := leaf.CheckSignatureFrom(wwdr); err != nil {
			return nil, fmt.Errorf("certs: load: leaf %q from %s is not signed by the given WWDR %q from %s (wrong WWDR generation?): %w",
				leaf.Subject.CommonName, origin, wwdr.Subject.String(), src.WWDRFile, err)
		}
	} else {
		for _, c := range chain {
			if leaf.CheckSignatureFrom(c) == nil {
				wwdr = c
				break
			}
		}
		if wwdr == nil {
			return nil, fmt.Errorf("certs: load: no WWDR file set and no certificate in %s signed the leaf %q", origin, leaf.Subject.CommonName)
		}
	}
	return &Identity{Leaf: leaf, Key: key, WWDR: wwdr}, nil
}

// LoadP12 reads a PKCS#12 (.p12/.pfx) file protected by password. Both legacy
// (3DES/RC2, "openssl pkcs12 -legacy") and modern (AES, SHA-256 MAC) files
// are accepted, with or without a chain. The leaf is the certificate whose
// public key matches the private key; chain holds the other certificates.
//
// It returns an error naming path if the file cannot be read, the password is
// wrong, the file holds no key or certificate, the key cannot sign, or no
// certificate matches the key. The error never contains the password.
func LoadP12(path, password string) (leaf *x509.Certificate, key crypto.Signer, chain []*x509.Certificate, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("certs: load p12 %s: %w", path, err)
	}
	priv, first, rest, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("certs: load p12 %s: %w", path, err)
	}
	key, ok := priv.(crypto.Signer)
	if !ok {
		return nil, nil, nil, fmt.Errorf("certs: load p12 %s: private key of type %T cannot sign", path, priv)
	}
	leaf, chain, err = splitLeaf(key, append([]*x509.Certificate{first}, rest...))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("certs: load p12 %s: %w", path, err)
	}
	return leaf, key, chain, nil
}

// LoadPEMPair reads a PEM certificate file, which may also hold the chain,
// and an unencrypted PEM private key file (PKCS#1 "RSA PRIVATE KEY", PKCS#8
// "PRIVATE KEY" or SEC 1 "EC PRIVATE KEY"). Both paths may name the same
// file. The leaf is the certificate whose public key matches the key; chain
// holds the other certificates in file order.
//
// It returns an error naming the file concerned if a file cannot be read,
// holds no certificate or no key, the key is encrypted or cannot sign, or no
// certificate matches the key.
func LoadPEMPair(certPath, keyPath string) (leaf *x509.Certificate, key crypto.Signer, chain []*x509.Certificate, err error) {
	certs, err := readPEMCertificates(certPath)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err = readPEMKey(keyPath)
	if err != nil {
		return nil, nil, nil, err
	}
	leaf, chain, err = splitLeaf(key, certs)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("certs: key %s and certificate %s: %w", keyPath, certPath, err)
	}
	return leaf, key, chain, nil
}

// LoadCertificate reads the first certificate from a PEM or DER file. It
// returns an error naming path if the file cannot be read or holds no
// parsable certificate.
func LoadCertificate(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("certs: load certificate %s: %w", path, err)
	}
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, fmt.Errorf("certs: load certificate %s: parse DER: %w", path, err)
		}
		return c, nil
	}
	certs, err := parsePEMCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("certs: load certificate %s: %w", path, err)
	}
	return certs[0], nil
}

// PassTypeID returns the pass type identifier a pass certificate is for: its
// subject UID (OID 0.9.2342.19200300.100.1.1), or else the part of its common
// name after "Pass Type ID: ". It returns "" if c has neither.
func PassTypeID(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	for _, n := range c.Subject.Names {
		if n.Type.Equal(oidUID) {
			if s, ok := n.Value.(string); ok && s != "" {
				return s
			}
		}
	}
	if id, ok := strings.CutPrefix(c.Subject.CommonName, passTypeIDPrefix); ok {
		return id
	}
	return ""
}

// TeamID returns the Apple team identifier of a pass certificate: the first
// organisational unit of its subject, or "" if there is none.
func TeamID(c *x509.Certificate) string {
	if c == nil || len(c.Subject.OrganizationalUnit) == 0 {
		return ""
	}
	return c.Subject.OrganizationalUnit[0]
}

// readPEMCertificates returns every certificate in the PEM file at path.
func readPEMCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("certs: load certificate %s: %w", path, err)
	}
	certs, err := parsePEMCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("certs: load certificate %s: %w", path, err)
	}
	return certs, nil
}

// parsePEMCertificates returns the CERTIFICATE blocks of data, skipping
// other blocks. It returns an error if there are none or one does not parse.
func parsePEMCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return certs, nil
}

// readPEMKey returns the first private key in the PEM file at path. Its
// errors name the file but never include key bytes.
func readPEMKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("certs: load key %s: %w", path, err)
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("certs: load key %s: no unencrypted PEM private key block", path)
		}
		var (
			priv any
			err  error
		)
		switch b.Type {
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("certs: load key %s: encrypted keys are not supported", path)
		case "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if _, encrypted := b.Headers["DEK-Info"]; encrypted {
				return nil, fmt.Errorf("certs: load key %s: encrypted keys are not supported", path)
			}
			if b.Type == "RSA PRIVATE KEY" {
				priv, err = x509.ParsePKCS1PrivateKey(b.Bytes)
			} else {
				priv, err = x509.ParseECPrivateKey(b.Bytes)
			}
		case "PRIVATE KEY":
			priv, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		default:
			continue // certificates, EC PARAMETERS and the like
		}
		if err != nil {
			return nil, fmt.Errorf("certs: load key %s: parse %s: %w", path, b.Type, err)
		}
		key, ok := priv.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("certs: load key %s: private key of type %T cannot sign", path, priv)
		}
		return key, nil
	}
}

// splitLeaf returns the certificate in certs whose public key matches key,
// and the others in their original order.
func splitLeaf(key crypto.Signer, certs []*x509.Certificate) (*x509.Certificate, []*x509.Certificate, error) {
	for i, c := range certs {
		if keyMatches(key, c) {
			chain := make([]*x509.Certificate, 0, len(certs)-1)
			chain = append(chain, certs[:i]...)
			chain = append(chain, certs[i+1:]...)
			return c, chain, nil
		}
	}
	return nil, nil, errors.New("private key does not match any certificate")
}

// keyMatches reports whether key is the private half of c's public key.
func keyMatches(key crypto.Signer, c *x509.Certificate) bool {
	if key == nil || c == nil {
		return false
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(c.PublicKey)
}
