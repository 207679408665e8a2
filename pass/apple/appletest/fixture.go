package appletest

import (
	"context"
	"io/fs"
	"os"
	"sync"
	"testing"

	"walletpass/certs"
	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/templates"
)

// Test identifiers of the Fixture's issuer.
const (
	PassTypeID = "pass.dev.walletpass.test"
	TeamID     = "TEAMID1234"
)

// Fixture is a signing setup for tests: a development PKI, an issuer for
// tenant "demo" and the built-in default template, registered together.
type Fixture struct {
	Dev      certs.DevPaths
	Issuer   *apple.Issuer
	Template *apple.Template
	Registry *apple.Registry
	// WWDR is the path of the development WWDR certificate to verify with.
	WWDR string
}

var (
	pkiOnce sync.Once
	pkiDev  certs.DevPaths
	pkiErr  error
)

// Setup returns a Fixture. The development PKI is made once per test
// process in a temporary directory (RSA key generation is slow).
func Setup(tb testing.TB) Fixture {
	tb.Helper()
	pkiOnce.Do(func() {
		dir, err := os.MkdirTemp("", "walletpass-pki-")
		if err != nil {
			pkiErr = err
			return
		}
		pkiDev, pkiErr = certs.EnsureDev(dir, PassTypeID, TeamID, "Walletpass Test")
	})
	if pkiErr != nil {
		tb.Fatal(pkiErr)
	}
	id, err := certs.Load(certs.Source{CertFile: pkiDev.Cert, KeyFile: pkiDev.Key, WWDRFile: pkiDev.WWDRCert})
	if err != nil {
		tb.Fatal(err)
	}
	is, err := apple.NewIssuer(apple.IssuerConfig{
		PassTypeID: PassTypeID, TeamID: TeamID, OrganizationName: "Demo Concerts",
		WebServiceURL: "https://passes.example.com/api/demo/apple",
		Cert:          id.Leaf, Key: id.Key, WWDR: id.WWDR,
	})
	if err != nil {
		tb.Fatal(err)
	}
	sub, err := fs.Sub(templates.FS, "default")
	if err != nil {
		tb.Fatal(err)
	}
	tpl, err := apple.LoadTemplate("default", sub)
	if err != nil {
		tb.Fatalf("default template: %v", err)
	}
	reg := apple.NewRegistry()
	reg.AddIssuer("demo", is)
	reg.AddTemplate(tpl)
	return Fixture{Dev: pkiDev, Issuer: is, Template: tpl, Registry: reg, WWDR: pkiDev.WWDRCert}
}

// Files stores the fixture's template files in blobs and returns the
// reader that completes the passes whose versions are in versions, as the
// service does.
func (f Fixture) Files(tb testing.TB, blobs pass.BlobStore, versions apple.VersionContents) *apple.Files {
	tb.Helper()
	files := apple.NewFiles(blobs, versions)
	for _, t := range f.Registry.Templates() {
		if err := files.AddTemplate(context.Background(), t); err != nil {
			tb.Fatal(err)
		}
	}
	return files
}
