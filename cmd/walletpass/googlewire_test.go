package main

import (
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"walletpass/pass/apple"
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
