package apple_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/pass/apple/appletest"
	"walletpass/storage/blob"
)

// TestStoredFormIsCompletedForDownload: a version is stored as pass.json,
// manifest.json and signature; the template's files, stored once by
// checksum, make it whole again, even for a reader that never loaded the
// template (another instance, a later template revision).
func TestStoredFormIsCompletedForDownload(t *testing.T) {
	t.Parallel()
	f := appletest.Setup(t)
	ctx := context.Background()
	blobs, err := blob.NewDir(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	f.Files(t, blobs) // stores the template's files, as the service does at start
	r, err := f.Registry.Render(ctx, "demo", "default", pass.PassInput{Ticket: apple.SampleTicket(pass.EventConcert),
		SerialNumber: "serial-stored-1", AuthToken: "token-0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := f.Registry.Sign(ctx, "demo", r)
	if err != nil {
		t.Fatal(err)
	}
	if names := slices.Sorted(maps.Keys(appletest.Unzip(t, stored))); !slices.Equal(names, []string{"manifest.json", "pass.json", "signature"}) {
		t.Fatalf("stored form holds %v", names)
	}
	whole, err := f.Issuer.Package(f.Template, r.PassJSON)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored)*10 > len(whole) {
		t.Errorf("stored form %d bytes, whole pass %d: the template's files are still in it", len(stored), len(whole))
	}
	if err := blobs.Put(ctx, "demo/passes/serial-stored-1/v1.pkpass", stored, pass.ContentTypePkpass); err != nil {
		t.Fatal(err)
	}

	got, err := apple.NewFiles(blobs).Get(ctx, "demo/passes/serial-stored-1/v1.pkpass") // nothing at hand: all from the store
	if err != nil {
		t.Fatal(err)
	}
	pj := appletest.Verify(t, got, f.WWDR) // the stored signature, every file its manifest names
	if pj["serialNumber"] != "serial-stored-1" {
		t.Errorf("serial %v", pj["serialNumber"])
	}
	gotFiles, wantFiles := appletest.Unzip(t, got), appletest.Unzip(t, whole)
	if !slices.Equal(slices.Sorted(maps.Keys(gotFiles)), slices.Sorted(maps.Keys(wantFiles))) {
		t.Errorf("completed pass holds %v, Package writes %v", slices.Sorted(maps.Keys(gotFiles)), slices.Sorted(maps.Keys(wantFiles)))
	}
	for _, name := range []string{"pass.json", "manifest.json", "signature"} {
		if string(gotFiles[name]) != string(appletest.Unzip(t, stored)[name]) {
			t.Errorf("%s differs from the stored one", name)
		}
	}

	// A pass stored whole (before this form) comes back as it is.
	if err := blobs.Put(ctx, "demo/passes/serial-stored-1/v0.pkpass", whole, pass.ContentTypePkpass); err != nil {
		t.Fatal(err)
	}
	if got, err := apple.NewFiles(blobs).Get(ctx, "demo/passes/serial-stored-1/v0.pkpass"); err != nil || string(got) != string(whole) {
		t.Errorf("whole pass: %d bytes, %v; want it unchanged (%d bytes)", len(got), err, len(whole))
	}

	// A damaged or missing template file is an error, never a pass that
	// would not verify.
	sum := sha1.Sum(appletest.Unzip(t, whole)["icon.png"])
	key := apple.AssetKey(hex.EncodeToString(sum[:]))
	if err := blobs.Put(ctx, key, []byte("not the icon"), ""); err != nil {
		t.Fatal(err)
	}
	_, err = apple.NewFiles(blobs).Get(ctx, "demo/passes/serial-stored-1/v1.pkpass")
	if pass.KindOf(err) != pass.KindUnavailable {
		t.Errorf("damaged icon: %v (kind %v), want unavailable", err, pass.KindOf(err))
	}
	if err := blobs.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	_, err = apple.NewFiles(blobs).Get(ctx, "demo/passes/serial-stored-1/v1.pkpass")
	if pass.KindOf(err) != pass.KindUnavailable {
		t.Errorf("missing icon: %v (kind %v), want unavailable", err, pass.KindOf(err))
	}
	if _, err := apple.NewFiles(blobs).Get(ctx, "demo/passes/nothing/v1.pkpass"); !errors.Is(err, pass.ErrNotFound) {
		t.Errorf("no such pass: %v", err)
	}
	if err := blobs.Put(ctx, "demo/passes/serial-stored-1/v9.pkpass", []byte("not a zip"), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := apple.NewFiles(blobs).Get(ctx, "demo/passes/serial-stored-1/v9.pkpass"); pass.KindOf(err) != pass.KindUnavailable {
		t.Errorf("not a zip: %v", err)
	}
}
