package certs

import (
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	f := setup(t)
	other := setup(t)
	leaf, wwdr := f.id.Leaf, f.id.WWDR
	day := 24 * time.Hour
	midLife := leaf.NotBefore.Add(100 * day)

	// A leaf like the real one but without Apple's pass-signing EKU.
	tmpl := *leaf
	tmpl.UnknownExtKeyUsage = nil
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	tmpl.SerialNumber = big.NewInt(2)
	wwdrID, err := Load(Source{CertFile: f.paths.WWDRCert, KeyFile: f.paths.WWDRKey, WWDRFile: f.paths.WWDRCert})
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, wwdr, leaf.PublicKey, wwdrID.Key)
	if err != nil {
		t.Fatal(err)
	}
	noEKU, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}

	type want struct {
		severity Severity
		contains []string
	}
	tests := []struct {
		name       string
		id         *Identity
		passTypeID string
		teamID     string
		now        time.Time
		want       []want
	}{
		{
			name: "all good",
			id:   f.id, passTypeID: testPassTypeID, teamID: testTeamID, now: midLife,
		},
		{
			name: "leaf expired",
			id:   f.id, passTypeID: testPassTypeID, teamID: testTeamID, now: leaf.NotAfter.Add(day),
			want: []want{{Error, []string{"pass certificate expired on", leaf.NotAfter.UTC().Format(time.RFC3339)}}},
		},
		{
			name: "leaf not yet valid",
			id:   f.id, passTypeID: testPassTypeID, teamID: testTeamID, now: leaf.NotBefore.Add(-day),
			want: []want{
				{Error, []string{"pass certificate is not valid until"}},
				{Error, []string{"WWDR certificate is not valid until"}}, // made at the same moment
			},
		},
		{
			name: "leaf expires in 10 days",
			id:   f.id, passTypeID: testPassTypeID, teamID: testTeamID, now: leaf.NotAfter.Add(-10*day - time.Hour),
			want: []want{{Warning, []string{"expires in 10 days"}}},
		},
		{
			name: "leaf expires in 31 days",
			id:   f.id, passTypeID: testPassTypeID, teamID: testTeamID, now: leaf.NotAfter.Add(-31 * day),
		},
		{
			name: "wrong WWDR",
			id:   &Identity{Leaf: leaf, Key: f.id.Key, WWDR: other.id.WWDR}, passTypeID: testPassTypeID, teamID: testTeamID, now: midLife,
			want: []want{{Error, []string{"not signed by the given WWDR", "wrong WWDR generation?"}}},
		},
		{
			name: "WWDR expired",
			id:   f.id, passTypeID: testPassTypeID, teamID: testTeamID, now: wwdr.NotAfter.Add(day),
			want: []want{
				{Error, []string{"pass certificate expired on"}},
				{Error, []string{"WWDR certificate expired on", wwdr.NotAfter.UTC().Format(time.RFC3339)}},
			},
		},
		{
			name: "no WWDR",
			id:   &Identity{Leaf: leaf, Key: f.id.Key}, passTypeID: testPassTypeID, teamID: testTeamID, now: midLife,
			want: []want{{Error, []string{"no WWDR"}}},
		},
		{
			name: "key does not match",
			id:   &Identity{Leaf: leaf, Key: other.id.Key, WWDR: wwdr}, passTypeID: testPassTypeID, teamID: testTeamID, now: midLife,
			want: []want{{Error, []string{"private key does not match"}}},
		},
		{
			name: "pass type ID mismatch",
			id:   f.id, passTypeID: "pass.com.example.other", teamID: testTeamID, now: midLife,
			want: []want{{Error, []string{"pass type ID", `"` + testPassTypeID + `"`, `"pass.com.example.other"`}}},
		},
		{
			name: "team ID mismatch",
			id:   f.id, passTypeID: testPassTypeID, teamID: "ZZZZZ99999", now: midLife,
			want: []want{{Error, []string{"team ID", `"` + testTeamID + `"`, `"ZZZZZ99999"`}}},
		},
		{
			name: "no pass-signing EKU",
			id:   &Identity{Leaf: noEKU, Key: f.id.Key, WWDR: wwdr}, passTypeID: testPassTypeID, teamID: testTeamID, now: midLife,
			want: []want{{Warning, []string{"extended key usage", "1.2.840.113635.100.4.14"}}},
		},
		{
			name: "nil identity",
			id:   nil, passTypeID: testPassTypeID, teamID: testTeamID, now: midLife,
			want: []want{{Error, []string{"no pass certificate"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.id.Check(tt.passTypeID, tt.teamID, tt.now)
			for _, p := range got {
				t.Logf("%s: %s", p.Severity, p.Message)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Check returned %d problems %+v, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				if got[i].Severity != w.severity {
					t.Errorf("problem %d severity = %v, want %v", i, got[i].Severity, w.severity)
				}
				for _, s := range w.contains {
					if !strings.Contains(got[i].Message, s) {
						t.Errorf("problem %d message = %q, want it to contain %q", i, got[i].Message, s)
					}
				}
			}
		})
	}
}

func TestHasErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ps   []Problem
		want bool
	}{
		{name: "none", ps: nil, want: false},
		{name: "warnings only", ps: []Problem{{Warning, "a"}, {Warning, "b"}}, want: false},
		{name: "an error", ps: []Problem{{Warning, "a"}, {Error, "b"}}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := HasErrors(tt.ps); got != tt.want {
				t.Errorf("HasErrors = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSeverityString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    Severity
		want string
	}{
		{name: "warning", s: Warning, want: "warning"},
		{name: "error", s: Error, want: "error"},
		{name: "zero", s: 0, want: "severity(0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.s.String(); got != tt.want {
				t.Errorf("String = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCheckChain: Apple's WWDR G4 leads to Apple's root; the development
// WWDR does not, unless the development CA is trusted (development only).
func TestCheckChain(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	chain, err := parsePEMCertificates(AppleWWDRG4())
	if err != nil {
		t.Fatal(err)
	}
	g4 := chain[0]
	if g4.Subject.OrganizationalUnit[0] != "G4" {
		t.Fatalf("embedded WWDR: %s", g4.Subject)
	}
	if ps := (&Identity{WWDR: g4}).CheckChain(AppleRoots(), now); len(ps) != 0 {
		t.Errorf("Apple's WWDR G4: %v", ps)
	}
	// Long after it expired, the chain question is still answered.
	if ps := (&Identity{WWDR: g4}).CheckChain(AppleRoots(), now.AddDate(10, 0, 0)); len(ps) != 0 {
		t.Errorf("Apple's WWDR G4 in 2036: %v", ps)
	}
	paths, err := EnsureDev(t.TempDir(), "pass.dev.walletpass.demo", "DEMOTEAM01", "Demo")
	if err != nil {
		t.Fatal(err)
	}
	dev, err := LoadCertificate(paths.WWDRCert)
	if err != nil {
		t.Fatal(err)
	}
	ps := (&Identity{WWDR: dev}).CheckChain(AppleRoots(), now)
	if !HasErrors(ps) || !strings.Contains(ps[0].Message, "does not lead to Apple's root") {
		t.Errorf("the development WWDR against Apple's root: %v", ps)
	}
	devRoots := AppleRoots()
	devRoots.AddCert(dev)
	if ps := (&Identity{WWDR: dev}).CheckChain(devRoots, now); len(ps) != 0 {
		t.Errorf("the development WWDR with the development CA trusted: %v", ps)
	}
	if ps := (&Identity{}).CheckChain(AppleRoots(), now); ps != nil {
		t.Errorf("no WWDR: %v (Check reports it)", ps)
	}
}
