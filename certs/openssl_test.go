package certs

import (
	"path/filepath"
	"strings"
	"testing"
)

// The tests in this file check interoperability with the openssl command
// line, and fail if it is missing.

const testP12Password = "secret"

// exportP12 writes a .p12 of the fixture's pass certificate and key with
// openssl, including the WWDR if withChain, and returns its path and the
// output of "openssl pkcs12 -info" on it (which names the algorithms used).
func exportP12(t *testing.T, f *fixture, legacy, withChain bool) (path, info string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "pass.p12")
	base := []string{"pkcs12", "-export", "-inkey", f.paths.Key, "-in", f.paths.Cert,
		"-passout", "pass:" + testP12Password, "-out", path}
	if withChain {
		base = append(base, "-certfile", f.paths.WWDRCert)
	}
	infoArgs := []string{"pkcs12", "-info", "-noout", "-in", path, "-passin", "pass:" + testP12Password}
	if !legacy {
		if out, err := runOpenSSL(t, base...); err != nil {
			t.Fatalf("openssl pkcs12 -export: %v\n%s", err, out)
		}
		info, err := runOpenSSL(t, infoArgs...)
		if err != nil {
			t.Fatalf("openssl pkcs12 -info: %v\n%s", err, info)
		}
		return path, info
	}

	// -legacy needs OpenSSL 3's legacy provider (RC2); 3DES everywhere is
	// the fallback.
	out, err := runOpenSSL(t, append(base, "-legacy")...)
	if err == nil {
		if info, err = runOpenSSL(t, append(infoArgs, "-legacy")...); err == nil {
			return path, info
		}
	}
	t.Logf("openssl pkcs12 -legacy failed, using explicit 3DES: %v\n%s", err, out)
	if out, err := runOpenSSL(t, append(base, "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1")...); err != nil {
		t.Fatalf("openssl pkcs12 -export with 3DES: %v\n%s", err, out)
	}
	info, err = runOpenSSL(t, infoArgs...)
	if err != nil {
		t.Fatalf("openssl pkcs12 -info: %v\n%s", err, info)
	}
	return path, info
}

func TestLoadP12(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		name      string
		legacy    bool
		withChain bool
		wantAlgos []string // in openssl pkcs12 -info, to prove which format was tested
	}{
		{name: "modern with chain", withChain: true, wantAlgos: []string{"AES-256-CBC", "MAC: sha256"}},
		{name: "modern without chain", wantAlgos: []string{"AES-256-CBC", "MAC: sha256"}},
		{name: "legacy with chain", legacy: true, withChain: true, wantAlgos: []string{"TripleDES", "MAC: sha1"}},
		{name: "legacy without chain", legacy: true, wantAlgos: []string{"TripleDES", "MAC: sha1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path, info := exportP12(t, f, tt.legacy, tt.withChain)
			for _, a := range tt.wantAlgos {
				if !strings.Contains(info, a) {
					t.Fatalf("openssl pkcs12 -info = %q, want it to mention %q", info, a)
				}
			}

			leaf, key, chain, err := LoadP12(path, testP12Password)
			if err != nil {
				t.Fatalf("LoadP12: %v", err)
			}
			if !leaf.Equal(f.id.Leaf) {
				t.Errorf("leaf = %q, want %q", leaf.Subject, f.id.Leaf.Subject)
			}
			if !keyMatches(key, f.id.Leaf) {
				t.Error("key does not match the leaf")
			}
			wantChain := 0
			if tt.withChain {
				wantChain = 1
			}
			if len(chain) != wantChain {
				t.Fatalf("chain has %d certificates, want %d", len(chain), wantChain)
			}
			if tt.withChain && !chain[0].Equal(f.id.WWDR) {
				t.Errorf("chain[0] = %q, want the WWDR %q", chain[0].Subject, f.id.WWDR.Subject)
			}

			srcs := []Source{{P12File: path, P12Password: testP12Password, WWDRFile: f.paths.WWDRCert}}
			if tt.withChain {
				srcs = append(srcs, Source{P12File: path, P12Password: testP12Password})
			}
			for _, src := range srcs {
				id, err := Load(src)
				if err != nil {
					t.Fatalf("Load(%+v): %v", src, err)
				}
				if !id.WWDR.Equal(f.id.WWDR) {
					t.Errorf("Load(%+v) WWDR = %q, want %q", src, id.WWDR.Subject, f.id.WWDR.Subject)
				}
			}
		})
	}
}

func TestLoadP12WrongPassword(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		name   string
		legacy bool
	}{
		{name: "modern"},
		{name: "legacy", legacy: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path, _ := exportP12(t, f, tt.legacy, true)
			const wrong = "hunter2-wrong"
			_, _, _, err := LoadP12(path, wrong)
			if err == nil {
				t.Fatal("LoadP12 with a wrong password succeeded, want an error")
			}
			if msg := err.Error(); strings.Contains(msg, wrong) || strings.Contains(msg, testP12Password) {
				t.Errorf("LoadP12 error = %q, want it not to contain a password", msg)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("LoadP12 error = %q, want it to name %s", err, path)
			}
			if _, err := Load(Source{P12File: path, P12Password: wrong}); err == nil || strings.Contains(err.Error(), wrong) {
				t.Errorf("Load error = %v, want an error without the password", err)
			}
		})
	}
}

func TestOpenSSLReadsDevPKI(t *testing.T) {
	t.Parallel()
	f := setup(t)

	out, err := runOpenSSL(t, "x509", "-in", f.paths.Cert, "-noout", "-subject", "-nameopt", "oneline")
	if err != nil {
		t.Fatalf("openssl x509 -subject: %v\n%s", err, out)
	}
	subject := strings.TrimSpace(out)
	t.Log(subject)
	uidOK := strings.Contains(subject, "UID = "+testPassTypeID) || strings.Contains(subject, "userId = "+testPassTypeID)
	if !uidOK {
		t.Errorf("subject = %q, want UID = %s", subject, testPassTypeID)
	}
	for _, want := range []string{"CN = Pass Type ID: " + testPassTypeID, "OU = " + testTeamID, "O = " + testOrg, "C = US"} {
		if !strings.Contains(subject, want) {
			t.Errorf("subject = %q, want it to contain %q", subject, want)
		}
	}
	if i, j := strings.Index(subject, "UID"), strings.Index(subject, "CN"); i < 0 || j < i {
		t.Errorf("subject = %q, want UID before CN as in Apple's certificates", subject)
	}

	out, err = runOpenSSL(t, "verify", "-CAfile", f.paths.WWDRCert, "-purpose", "any", f.paths.Cert)
	if err != nil || !strings.Contains(out, ": OK") {
		t.Errorf("openssl verify against the dev WWDR = %v\n%s, want OK", err, out)
	}
}
