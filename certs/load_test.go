package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	f := setup(t)
	other := setup(t)
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name     string
		src      Source
		wantErrs []string // substrings of the error
	}{
		{
			name:     "key does not match certificate",
			src:      Source{CertFile: f.paths.Cert, KeyFile: other.paths.Key, WWDRFile: f.paths.WWDRCert},
			wantErrs: []string{"does not match", other.paths.Key, f.paths.Cert},
		},
		{
			name:     "wrong WWDR",
			src:      Source{CertFile: f.paths.Cert, KeyFile: f.paths.Key, WWDRFile: other.paths.WWDRCert},
			wantErrs: []string{"not signed by the given WWDR", "wrong WWDR generation?", other.paths.WWDRCert},
		},
		{
			name:     "missing certificate",
			src:      Source{CertFile: missing, KeyFile: f.paths.Key, WWDRFile: f.paths.WWDRCert},
			wantErrs: []string{missing},
		},
		{
			name:     "missing key",
			src:      Source{CertFile: f.paths.Cert, KeyFile: missing, WWDRFile: f.paths.WWDRCert},
			wantErrs: []string{missing},
		},
		{
			name:     "missing WWDR",
			src:      Source{CertFile: f.paths.Cert, KeyFile: f.paths.Key, WWDRFile: missing},
			wantErrs: []string{missing},
		},
		{
			name:     "missing P12",
			src:      Source{P12File: missing, P12Password: "secret", WWDRFile: f.paths.WWDRCert},
			wantErrs: []string{missing},
		},
		{
			name:     "no WWDR file and no chain",
			src:      Source{CertFile: f.paths.Cert, KeyFile: f.paths.Key},
			wantErrs: []string{"no WWDR file", f.paths.Cert},
		},
		{
			name:     "P12 and PEM both set",
			src:      Source{P12File: missing, CertFile: f.paths.Cert, KeyFile: f.paths.Key},
			wantErrs: []string{"not both"},
		},
		{
			name:     "key file without certificate file",
			src:      Source{KeyFile: f.paths.Key},
			wantErrs: []string{"must both be set"},
		},
		{
			name:     "nothing set",
			src:      Source{},
			wantErrs: []string{"no P12 file"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, err := Load(tt.src)
			if err == nil {
				t.Fatalf("Load = %+v, want an error", id)
			}
			for _, want := range tt.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Load error = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestLoadSources(t *testing.T) {
	t.Parallel()
	f := setup(t)
	dir := t.TempDir()
	der := writeFile(t, dir, "wwdr.cer", f.id.WWDR.Raw)
	leafThenWWDR := writeFile(t, dir, "leaf-chain.pem", certPEM(f.id.Leaf, f.id.WWDR))
	wwdrThenLeaf := writeFile(t, dir, "chain-leaf.pem", certPEM(f.id.WWDR, f.id.Leaf))
	combined := writeFile(t, dir, "combined.pem", append(certPEM(f.id.Leaf), readFile(t, f.paths.Key)...))
	tests := []struct {
		name string
		src  Source
	}{
		{name: "PEM WWDR", src: Source{CertFile: f.paths.Cert, KeyFile: f.paths.Key, WWDRFile: f.paths.WWDRCert}},
		{name: "DER WWDR", src: Source{CertFile: f.paths.Cert, KeyFile: f.paths.Key, WWDRFile: der}},
		{name: "WWDR from chain after leaf", src: Source{CertFile: leafThenWWDR, KeyFile: f.paths.Key}},
		{name: "WWDR from chain before leaf", src: Source{CertFile: wwdrThenLeaf, KeyFile: f.paths.Key}},
		{name: "certificate and key in one file", src: Source{CertFile: combined, KeyFile: combined, WWDRFile: der}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, err := Load(tt.src)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !id.Leaf.Equal(f.id.Leaf) {
				t.Errorf("leaf = %q, want %q", id.Leaf.Subject, f.id.Leaf.Subject)
			}
			if !id.WWDR.Equal(f.id.WWDR) {
				t.Errorf("WWDR = %q, want %q", id.WWDR.Subject, f.id.WWDR.Subject)
			}
			if !keyMatches(id.Key, f.id.Leaf) {
				t.Error("key does not match the leaf")
			}
		})
	}
}

func TestLoadPEMPairKeyFormats(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	ecParams := "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
	tests := []struct {
		name    string
		key     crypto.Signer
		keyPEM  []byte
		wantErr string
	}{
		{name: "PKCS#1", key: rsaKey, keyPEM: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})},
		{name: "PKCS#8 RSA", key: rsaKey, keyPEM: keyPEM(t, rsaKey)},
		{name: "PKCS#8 EC", key: ecKey, keyPEM: keyPEM(t, ecKey)},
		{name: "SEC 1 EC with parameters", key: ecKey, keyPEM: append([]byte(ecParams), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})...)},
		{name: "encrypted PKCS#8", key: rsaKey, keyPEM: pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0}}), wantErr: "encrypted"},
		{name: "encrypted PKCS#1", key: rsaKey, keyPEM: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{0}}), wantErr: "encrypted"},
		{name: "no key", key: rsaKey, keyPEM: []byte("nothing here"), wantErr: "no unencrypted PEM private key"},
		{name: "corrupt key", key: rsaKey, keyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}), wantErr: "parse PRIVATE KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cert := selfSigned(t, tt.key)
			certPath := writeFile(t, dir, "cert.pem", certPEM(cert))
			keyPath := writeFile(t, dir, "key.pem", tt.keyPEM)

			leaf, key, chain, err := LoadPEMPair(certPath, keyPath)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), keyPath) {
					t.Fatalf("LoadPEMPair error = %v, want one containing %q and %q", err, tt.wantErr, keyPath)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadPEMPair: %v", err)
			}
			if !leaf.Equal(cert) {
				t.Errorf("leaf = %q, want %q", leaf.Subject, cert.Subject)
			}
			if !keyMatches(key, leaf) {
				t.Error("key does not match the leaf")
			}
			if len(chain) != 0 {
				t.Errorf("chain has %d certificates, want 0", len(chain))
			}
		})
	}
}

func TestLoadCertificateErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{name: "empty", data: nil, wantErr: "parse DER"},
		{name: "garbage DER", data: []byte{0x30, 0x03, 1, 2, 3}, wantErr: "parse DER"},
		{name: "PEM without certificate", data: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}), wantErr: "no PEM CERTIFICATE block"},
		{name: "corrupt PEM certificate", data: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), wantErr: "parse certificate 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, dir, strings.ReplaceAll(tt.name, " ", "-")+".pem", tt.data)
			c, err := LoadCertificate(path)
			if err == nil {
				t.Fatalf("LoadCertificate = %q, want an error", c.Subject)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Errorf("LoadCertificate error = %q, want one containing %q and %q", err, tt.wantErr, path)
			}
		})
	}
}

func TestPassTypeIDAndTeamID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		subject        pkix.Name
		wantPassTypeID string
		wantTeamID     string
	}{
		{
			name: "UID and CN",
			subject: pkix.Name{
				CommonName:         "Pass Type ID: pass.from.cn",
				OrganizationalUnit: []string{"TEAM1", "TEAM2"},
				ExtraNames:         []pkix.AttributeTypeAndValue{{Type: oidUID, Value: "pass.from.uid"}},
			},
			wantPassTypeID: "pass.from.uid",
			wantTeamID:     "TEAM1",
		},
		{
			name:           "CN only",
			subject:        pkix.Name{CommonName: "Pass Type ID: pass.from.cn"},
			wantPassTypeID: "pass.from.cn",
		},
		{
			name:    "neither",
			subject: pkix.Name{CommonName: "Apple Development: someone"},
		},
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := selfSignedWith(t, key, tt.subject)
			if got := PassTypeID(c); got != tt.wantPassTypeID {
				t.Errorf("PassTypeID = %q, want %q", got, tt.wantPassTypeID)
			}
			if got := TeamID(c); got != tt.wantTeamID {
				t.Errorf("TeamID = %q, want %q", got, tt.wantTeamID)
			}
		})
	}
	if got := PassTypeID(nil); got != "" {
		t.Errorf("PassTypeID(nil) = %q, want \"\"", got)
	}
	if got := TeamID(nil); got != "" {
		t.Errorf("TeamID(nil) = %q, want \"\"", got)
	}
}

// selfSigned returns a throwaway self-signed certificate for key.
func selfSigned(t *testing.T, key crypto.Signer) *x509.Certificate {
	t.Helper()
	return selfSignedWith(t, key, pkix.Name{CommonName: "test"})
}

// selfSignedWith returns a throwaway self-signed certificate for key with
// the given subject.
func selfSignedWith(t *testing.T, key crypto.Signer, subject pkix.Name) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      subject,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
