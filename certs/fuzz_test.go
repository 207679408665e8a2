package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzLoadPEMPair loads an arbitrary certificate file and key file: an
// error or a pair, never a panic; a pair is a leaf whose public key is
// the key's, and an error never shows the key's bytes.
func FuzzLoadPEMPair(f *testing.F) {
	pair := func() (cert, key []byte) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			f.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fuzz"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
		if err != nil {
			f.Fatal(err)
		}
		pk, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			f.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})
	}
	cert, key := pair()
	otherCert, otherKey := pair()
	for _, s := range [][2][]byte{
		{cert, key}, {append(otherCert, cert...), key}, {cert, otherKey}, {key, cert},
		{cert, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")}, {nil, nil},
		{cert, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"DEK-Info": "x"}, Bytes: []byte{1}})},
	} {
		f.Add(s[0], s[1])
	}
	dir := f.TempDir()
	certPath, keyPath := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	load := func(tb testing.TB, certData, keyData []byte) error {
		tb.Helper()
		if err := os.WriteFile(certPath, certData, 0o600); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(keyPath, keyData, 0o600); err != nil {
			tb.Fatal(err)
		}
		leaf, signer, _, err := LoadPEMPair(certPath, keyPath)
		if err != nil {
			msg := err.Error()
			for rest := keyData; ; {
				var b *pem.Block
				if b, rest = pem.Decode(rest); b == nil {
					break
				}
				if enc := base64.StdEncoding.EncodeToString(b.Bytes); len(b.Bytes) >= 8 && strings.Contains(msg, enc) {
					tb.Fatalf("the error shows the key's bytes: %s", msg)
				}
			}
			return err
		}
		if leaf == nil || signer == nil || !keyMatches(signer, leaf) {
			tb.Fatalf("a pair whose key is not the leaf's: %v", leaf)
		}
		return nil
	}
	if err := load(f, append(otherCert, cert...), key); err != nil {
		f.Fatalf("the seed pair does not load: %v", err)
	}
	f.Fuzz(func(t *testing.T, certData, keyData []byte) {
		_ = load(t, certData, keyData)
	})
}
