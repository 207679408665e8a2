package certs

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEnsureDevReusesFiles(t *testing.T) {
	t.Parallel()
	f := setup(t)
	files := []string{f.paths.WWDRCert, f.paths.WWDRKey, f.paths.Cert, f.paths.Key}
	before := make(map[string][]byte)
	for _, p := range files {
		before[p] = readFile(t, p)
	}

	paths, err := EnsureDev(f.dir, testPassTypeID, testTeamID, testOrg)
	if err != nil {
		t.Fatalf("second EnsureDev: %v", err)
	}
	if paths != f.paths {
		t.Errorf("second EnsureDev paths = %+v, want %+v", paths, f.paths)
	}
	for _, p := range files {
		if got := readFile(t, p); !bytes.Equal(got, before[p]) {
			t.Errorf("%s changed on the second EnsureDev", p)
		}
	}

	perms := map[string]os.FileMode{
		f.dir: 0o700, f.paths.WWDRKey: 0o600, f.paths.Key: 0o600,
		f.paths.WWDRCert: 0o644, f.paths.Cert: 0o644,
	}
	for p, want := range perms {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %v, want %v", p, got, want)
		}
	}
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(entries); got != len(files) {
		t.Errorf("%s holds %d entries, want %d (temporary files left behind?)", f.dir, got, len(files))
	}
}

func TestEnsureDevCertificates(t *testing.T) {
	t.Parallel()
	f := setup(t)
	leaf, wwdr := f.id.Leaf, f.id.WWDR

	if ps := f.id.Check(testPassTypeID, testTeamID, time.Now()); len(ps) != 0 {
		t.Errorf("Check = %+v, want no problems", ps)
	}
	if got := PassTypeID(leaf); got != testPassTypeID {
		t.Errorf("PassTypeID = %q, want %q", got, testPassTypeID)
	}
	if got := TeamID(leaf); got != testTeamID {
		t.Errorf("TeamID = %q, want %q", got, testTeamID)
	}

	t.Run("leaf", func(t *testing.T) {
		t.Parallel()
		got := rawSubject(t, leaf.RawSubject)
		want := []string{
			"UID=" + testPassTypeID + " (UTF8String)",
			"CN=Pass Type ID: " + testPassTypeID + " (UTF8String)",
			"OU=" + testTeamID + " (UTF8String)",
			"O=" + testOrg + " (UTF8String)",
			"C=US (PrintableString)",
		}
		if !slices.Equal(got, want) {
			t.Errorf("subject = %q, want %q", got, want)
		}
		if got, want := leaf.Subject.Organization, []string{testOrg}; !slices.Equal(got, want) {
			t.Errorf("O = %q, want %q", got, want)
		}
		if got, want := leaf.Subject.Country, []string{"US"}; !slices.Equal(got, want) {
			t.Errorf("C = %q, want %q", got, want)
		}
		if got := leaf.KeyUsage; got != x509.KeyUsageDigitalSignature {
			t.Errorf("KeyUsage = %v, want %v", got, x509.KeyUsageDigitalSignature)
		}
		if got := leaf.UnknownExtKeyUsage; len(got) != 1 || !got[0].Equal(oidPassSigningEKU) {
			t.Errorf("UnknownExtKeyUsage = %v, want [%v]", got, oidPassSigningEKU)
		}
		if leaf.IsCA {
			t.Error("leaf IsCA = true, want false")
		}
		if got := leaf.PublicKey.(*rsa.PublicKey).N.BitLen(); got != 2048 {
			t.Errorf("leaf key bits = %d, want 2048", got)
		}
		if got := leaf.SerialNumber.BitLen(); got > 128 || got < 64 {
			t.Errorf("serial bits = %d, want a random 128-bit number", got)
		}
		if got, want := leaf.NotAfter.Sub(leaf.NotBefore).Round(24*time.Hour), 365*24*time.Hour; got != want && got != want+24*time.Hour {
			t.Errorf("leaf validity = %v, want one year", got)
		}
		if !bytes.Equal(leaf.RawIssuer, wwdr.RawSubject) {
			t.Errorf("leaf issuer = %q, want %q", leaf.Issuer, wwdr.Subject)
		}

		var ext []byte
		for _, e := range leaf.Extensions {
			if e.Id.Equal(oidPassTypeIDExt) {
				if e.Critical {
					t.Errorf("extension %v is critical, want non-critical", oidPassTypeIDExt)
				}
				ext = e.Value
			}
		}
		if ext == nil {
			t.Fatalf("leaf lacks extension %v", oidPassTypeIDExt)
		}
		var raw asn1.RawValue
		if rest, err := asn1.Unmarshal(ext, &raw); err != nil || len(rest) != 0 {
			t.Fatalf("extension %v: unmarshal: %v (%d trailing bytes)", oidPassTypeIDExt, err, len(rest))
		}
		if raw.Tag != asn1.TagUTF8String || string(raw.Bytes) != testPassTypeID {
			t.Errorf("extension %v = tag %d %q, want UTF8String %q", oidPassTypeIDExt, raw.Tag, raw.Bytes, testPassTypeID)
		}
	})

	t.Run("wwdr", func(t *testing.T) {
		t.Parallel()
		if err := wwdr.CheckSignatureFrom(wwdr); err != nil {
			t.Errorf("WWDR is not self-signed: %v", err)
		}
		got := rawSubject(t, wwdr.RawSubject)
		want := []string{
			"CN=Walletpass Development WWDR Certification Authority (UTF8String)",
			"OU=G4 (UTF8String)",
			"O=walletpass development (UTF8String)",
			"C=US (PrintableString)",
		}
		if !slices.Equal(got, want) {
			t.Errorf("WWDR subject = %q, want %q", got, want)
		}
		if !wwdr.IsCA || !wwdr.BasicConstraintsValid {
			t.Errorf("WWDR IsCA = %v, BasicConstraintsValid = %v, want both true", wwdr.IsCA, wwdr.BasicConstraintsValid)
		}
		if got, want := wwdr.KeyUsage, x509.KeyUsageCertSign|x509.KeyUsageCRLSign; got != want {
			t.Errorf("WWDR KeyUsage = %v, want %v", got, want)
		}
		if got := wwdr.PublicKey.(*rsa.PublicKey).N.BitLen(); got != 2048 {
			t.Errorf("WWDR key bits = %d, want 2048", got)
		}
		if got := wwdr.NotAfter.Sub(wwdr.NotBefore); got < 10*365*24*time.Hour || got > 10*366*24*time.Hour {
			t.Errorf("WWDR validity = %v, want 10 years", got)
		}
	})
}

func TestEnsureDevRenews(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// prepare changes the PKI and returns the arguments and time for the
		// next ensureDev.
		prepare         func(t *testing.T, f *fixture) (teamID string, now time.Time)
		wantNewWWDR     bool
		wantNewLeaf     bool
		wantLeafTeamID  string
		wantLeafExpires time.Duration // from now, approximately; 0 to skip
	}{
		{
			name: "nothing changed",
			prepare: func(t *testing.T, f *fixture) (string, time.Time) {
				return testTeamID, time.Now()
			},
		},
		{
			name: "leaf expires in 20 days",
			prepare: func(t *testing.T, f *fixture) (string, time.Time) {
				return testTeamID, f.id.Leaf.NotAfter.Add(-20 * 24 * time.Hour)
			},
			wantNewLeaf: true,
		},
		{
			name: "leaf expires in 40 days",
			prepare: func(t *testing.T, f *fixture) (string, time.Time) {
				return testTeamID, f.id.Leaf.NotAfter.Add(-40 * 24 * time.Hour)
			},
		},
		{
			name: "WWDR files removed",
			prepare: func(t *testing.T, f *fixture) (string, time.Time) {
				if err := os.Remove(f.paths.WWDRKey); err != nil {
					t.Fatal(err)
				}
				return testTeamID, time.Now()
			},
			wantNewWWDR: true,
			wantNewLeaf: true,
		},
		{
			name: "WWDR expires in 10 days",
			prepare: func(t *testing.T, f *fixture) (string, time.Time) {
				return testTeamID, f.id.WWDR.NotAfter.Add(-10 * 24 * time.Hour)
			},
			wantNewWWDR: true,
			wantNewLeaf: true,
		},
		{
			name: "leaf key does not match",
			prepare: func(t *testing.T, f *fixture) (string, time.Time) {
				writeFile(t, f.dir, filepath.Base(f.paths.Key), readFile(t, f.paths.WWDRKey))
				return testTeamID, time.Now()
			},
			wantNewLeaf: true,
		},
		{
			name: "leaf issued by another WWDR",
			prepare: func(t *testing.T, f *fixture) (string, time.Time) {
				other := setup(t)
				writeFile(t, f.dir, filepath.Base(f.paths.Cert), readFile(t, other.paths.Cert))
				writeFile(t, f.dir, filepath.Base(f.paths.Key), readFile(t, other.paths.Key))
				return testTeamID, time.Now()
			},
			wantNewLeaf: true,
		},
		{
			name: "team ID changed",
			prepare: func(t *testing.T, f *fixture) (string, time.Time) {
				return "ZZZZZ99999", time.Now()
			},
			wantNewLeaf:    true,
			wantLeafTeamID: "ZZZZZ99999",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			teamID, now := tt.prepare(t, f)
			wwdrBefore := readFile(t, f.paths.WWDRCert)
			leafBefore := readFile(t, f.paths.Cert)

			paths, err := ensureDev(f.dir, testPassTypeID, teamID, testOrg, now)
			if err != nil {
				t.Fatalf("ensureDev: %v", err)
			}
			if got := !bytes.Equal(readFile(t, paths.WWDRCert), wwdrBefore); got != tt.wantNewWWDR {
				t.Errorf("new WWDR = %v, want %v", got, tt.wantNewWWDR)
			}
			if got := !bytes.Equal(readFile(t, paths.Cert), leafBefore); got != tt.wantNewLeaf {
				t.Errorf("new leaf = %v, want %v", got, tt.wantNewLeaf)
			}
			id, err := Load(Source{CertFile: paths.Cert, KeyFile: paths.Key, WWDRFile: paths.WWDRCert})
			if err != nil {
				t.Fatalf("Load after ensureDev: %v", err)
			}
			if ps := id.Check(testPassTypeID, teamID, now); len(ps) != 0 {
				t.Errorf("Check after ensureDev = %+v, want no problems", ps)
			}
			if tt.wantLeafTeamID != "" {
				if got := TeamID(id.Leaf); got != tt.wantLeafTeamID {
					t.Errorf("TeamID = %q, want %q", got, tt.wantLeafTeamID)
				}
			}
		})
	}
}

func TestEnsureDevSharesWWDR(t *testing.T) {
	t.Parallel()
	f := setup(t)
	wwdrBefore := readFile(t, f.paths.WWDRCert)
	paths, err := EnsureDev(f.dir, "pass.com.example.other", testTeamID, testOrg)
	if err != nil {
		t.Fatalf("EnsureDev: %v", err)
	}
	if !bytes.Equal(readFile(t, paths.WWDRCert), wwdrBefore) {
		t.Error("WWDR changed when adding a second pass type ID")
	}
	id, err := Load(Source{CertFile: paths.Cert, KeyFile: paths.Key, WWDRFile: paths.WWDRCert})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got, want := PassTypeID(id.Leaf), "pass.com.example.other"; got != want {
		t.Errorf("PassTypeID = %q, want %q", got, want)
	}
}

func TestEnsureDevErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                    string
		passTypeID, teamID, org string
		garbage                 string // file name in dir to fill with garbage first
		wantErr                 string
	}{
		{name: "empty pass type ID", teamID: testTeamID, org: testOrg, wantErr: "empty pass type ID"},
		{name: "empty team ID", passTypeID: testPassTypeID, org: testOrg, wantErr: "empty team ID"},
		{name: "empty organisation", passTypeID: testPassTypeID, teamID: testTeamID, wantErr: "empty organisation"},
		{name: "path in pass type ID", passTypeID: "../pass.x", teamID: testTeamID, org: testOrg, wantErr: "not usable as a file name"},
		{name: "pass type ID clashes with WWDR", passTypeID: "WWDR", teamID: testTeamID, org: testOrg, wantErr: "clash"},
		{name: "garbage WWDR", passTypeID: testPassTypeID, teamID: testTeamID, org: testOrg, garbage: "wwdr.pem", wantErr: "wwdr.pem"},
		{name: "garbage leaf key", passTypeID: testPassTypeID, teamID: testTeamID, org: testOrg, garbage: testPassTypeID + ".key.pem", wantErr: testPassTypeID + ".key.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tt.garbage != "" {
				if _, err := EnsureDev(dir, tt.passTypeID, tt.teamID, tt.org); err != nil {
					t.Fatal(err)
				}
				writeFile(t, dir, tt.garbage, []byte("not PEM"))
			}
			_, err := EnsureDev(dir, tt.passTypeID, tt.teamID, tt.org)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("EnsureDev error = %v, want one containing %q", err, tt.wantErr)
			}
			if tt.garbage != "" {
				if got := string(readFile(t, filepath.Join(dir, tt.garbage))); got != "not PEM" {
					t.Errorf("%s was overwritten with %q, want it left alone", tt.garbage, got)
				}
			}
		})
	}
}

// rawSubject decodes a DER distinguished name in its encoded order, as
// "SHORT=value (string type)" with one entry per attribute.
func rawSubject(t *testing.T, der []byte) []string {
	t.Helper()
	type attribute struct {
		Type  asn1.ObjectIdentifier
		Value asn1.RawValue
	}
	names := map[string]string{
		oidUID.String(): "UID", oidCommonName.String(): "CN", oidOrganizationalUnit.String(): "OU",
		oidOrganization.String(): "O", oidCountry.String(): "C",
	}
	tags := map[int]string{asn1.TagUTF8String: "UTF8String", asn1.TagPrintableString: "PrintableString"}

	var rdns []asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &rdns); err != nil || len(rest) != 0 {
		t.Fatalf("unmarshal subject: %v (%d trailing bytes)", err, len(rest))
	}
	var out []string
	for _, rdn := range rdns {
		var attrs []attribute
		if _, err := asn1.UnmarshalWithParams(rdn.FullBytes, &attrs, "set"); err != nil {
			t.Fatalf("unmarshal RDN: %v", err)
		}
		for _, a := range attrs {
			name, ok := names[a.Type.String()]
			if !ok {
				name = a.Type.String()
			}
			tag, ok := tags[a.Value.Tag]
			if !ok {
				tag = fmt.Sprintf("tag %d", a.Value.Tag)
			}
			out = append(out, fmt.Sprintf("%s=%s (%s)", name, a.Value.Bytes, tag))
		}
	}
	return out
}
