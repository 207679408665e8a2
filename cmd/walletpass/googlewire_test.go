package main

import (
	"bytes"
	"image/png"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/pass/google"
	"walletpass/templates"
)

// TestGoogleImageGaps: a template without the images made for Google
// Wallet is named, with what Google is given instead; the built-in
// template has both.
func TestGoogleImageGaps(t *testing.T) {
	t.Parallel()
	def, err := fs.Sub(templates.FS, "default")
	if err != nil {
		t.Fatal(err)
	}
	// The same design without its Google images (and without a strip).
	bare := fstest.MapFS{}
	err = fs.WalkDir(def, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch p {
		case "google-logo.png", "google-hero.png", "strip.png", "strip@2x.png", "strip@3x.png":
			return nil
		}
		data, err := fs.ReadFile(def, p)
		bare[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := apple.NewRegistry()
	for name, fsys := range map[string]fs.FS{"default": def, "bare": bare} {
		tpl, err := apple.LoadTemplate(name, fsys)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		reg.AddTemplate(tpl)
	}
	want := map[string][]string{"bare": {
		"no google-hero.png: Google Wallet shows none",
		"no google-logo.png: Google Wallet shows icon@3x.png",
	}}
	if diff := cmp.Diff(want, googleImageGaps(reg)); diff != "" {
		t.Errorf("gaps (-want +got):\n%s", diff)
	}
}

// TestGoogleImageVersions: a template's Google images are named by their
// content in the address Google fetches them from, so a changed image
// (the same picture saved again, other bytes) gets a new address, and the
// class that shows it a new content hash; an unchanged one keeps its own.
func TestGoogleImageVersions(t *testing.T) {
	t.Parallel()
	def, err := fs.Sub(templates.FS, "default")
	if err != nil {
		t.Fatal(err)
	}
	logo, err := fs.ReadFile(def, "google-logo.png")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(logo))
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&again, img); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(again.Bytes(), logo) {
		t.Fatal("the logo saved again has the same bytes")
	}
	changed := fstest.MapFS{"google-logo.png": &fstest.MapFile{Data: again.Bytes()}}
	err = fs.WalkDir(def, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == "google-logo.png" {
			return err
		}
		data, err := fs.ReadFile(def, p)
		changed[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := apple.NewRegistry()
	for name, fsys := range map[string]fs.FS{"before": def, "after": changed} {
		tpl, err := apple.LoadTemplate(name, fsys)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		reg.AddTemplate(tpl)
	}
	before, after := designOf(reg, "before"), designOf(reg, "after")
	if before.LogoVersion == "" || before.LogoVersion == after.LogoVersion || before.HeroVersion != after.HeroVersion {
		t.Errorf("logo versions %q, %q (want two); hero versions %q, %q (want one)", before.LogoVersion, after.LogoVersion,
			before.HeroVersion, after.HeroVersion)
	}
	is := &google.Issuer{Tenant: "demo", IssuerID: "3388000000022222222", IssuerName: "Demo", ImageBaseURL: "https://passes.example.com/api/demo/google/images"}
	after.Template = before.Template // the same template, its logo changed
	tk := apple.SampleTicket(pass.EventConcert)
	b, a := google.BuildClass(is, before, tk), google.BuildClass(is, after, tk)
	if b.Logo == nil || !strings.HasSuffix(b.Logo.SourceUri.Uri, "/google-logo.png?v="+before.LogoVersion) ||
		a.Logo.SourceUri.Uri == b.Logo.SourceUri.Uri {
		t.Errorf("logo addresses %q and %q, want the content's version in each", b.Logo.SourceUri.Uri, a.Logo.SourceUri.Uri)
	}
}
