package certs

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

const (
	testPassTypeID = "pass.com.example.tickets"
	testTeamID     = "ABCDE12345"
	testOrg        = "Example Events"
)

// fixture is a development PKI made by EnsureDev and loaded with Load.
type fixture struct {
	dir   string
	paths DevPaths
	id    *Identity
}

// setup makes a fresh development PKI in a temporary directory.
func setup(t *testing.T) *fixture {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	paths, err := EnsureDev(dir, testPassTypeID, testTeamID, testOrg)
	if err != nil {
		t.Fatalf("EnsureDev: %v", err)
	}
	id, err := Load(Source{CertFile: paths.Cert, KeyFile: paths.Key, WWDRFile: paths.WWDRCert})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return &fixture{dir: dir, paths: paths, id: id}
}

// readFile returns the contents of path or fails the test.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeFile writes data to a new file in dir and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// certPEM encodes certificates as PEM.
func certPEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// keyPEM encodes key as a PKCS#8 PEM block.
func keyPEM(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// opensslPath returns the openssl binary; the test fails if there is none,
// because the openssl interoperability checks must not be skipped silently.
func opensslPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is required for this test: %v", err)
	}
	return p
}

// runOpenSSL runs openssl with args and returns its combined output.
func runOpenSSL(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(opensslPath(t), args...).CombinedOutput()
	return string(out), err
}
