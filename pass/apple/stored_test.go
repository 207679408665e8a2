package apple_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"walletpass/pass"
	"walletpass/pass/apple"
	"walletpass/pass/apple/appletest"
	"walletpass/storage/blob"
)

// versions is a tiny VersionContents: stored forms by serial and version.
type versions map[string][]byte

func (v versions) VersionContent(_ context.Context, tenant, serial string, n int) ([]byte, error) {
	data, ok := v[fmt.Sprintf("%s/%s/%d", tenant, serial, n)]
	if !ok {
		return nil, pass.ErrNotFound
	}
	return data, nil
}

// TestStoredFormIsCompletedForDownload: a version is stored as pass.json,
// manifest.json and signature; the template's files, stored once by
// checksum, make it whole again, even for a reader that never loaded the
// template (another instance, a later template revision). A version an
// earlier release stored as a file is read from the blob store.
func TestStoredFormIsCompletedForDownload(t *testing.T) {
	t.Parallel()
	f := appletest.Setup(t)
	ctx := context.Background()
	blobs, err := blob.NewDir(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	vs := versions{}
	f.Files(t, blobs, vs) // stores the template's files, as the service does at start
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
	vs["demo/serial-stored-1/2"] = stored
	v2 := &pass.Pass{Tenant: "demo", SerialNumber: "serial-stored-1", Version: 2}

	got, err := apple.NewFiles(blobs, vs).PassFile(ctx, v2) // nothing at hand: the template's files from the store
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

	// Versions of earlier releases: a whole pass file comes back as it is;
	// a stored form in a file is completed.
	if err := blobs.Put(ctx, "demo/passes/serial-stored-1/v1.pkpass", whole, pass.ContentTypePkpass); err != nil {
		t.Fatal(err)
	}
	v1 := &pass.Pass{Tenant: "demo", SerialNumber: "serial-stored-1", Version: 1, BlobKey: "demo/passes/serial-stored-1/v1.pkpass"}
	if got, err := apple.NewFiles(blobs, vs).PassFile(ctx, v1); err != nil || string(got) != string(whole) {
		t.Errorf("whole pass: %d bytes, %v; want it unchanged (%d bytes)", len(got), err, len(whole))
	}
	if err := blobs.Put(ctx, "demo/passes/serial-stored-1/v3.pkpass", stored, pass.ContentTypePkpass); err != nil {
		t.Fatal(err)
	}
	v3 := &pass.Pass{Tenant: "demo", SerialNumber: "serial-stored-1", Version: 3, BlobKey: "demo/passes/serial-stored-1/v3.pkpass"}
	if got, err := apple.NewFiles(blobs, vs).PassFile(ctx, v3); err != nil || len(appletest.Unzip(t, got)) != len(wantFiles) {
		t.Errorf("stored form in a file: %v", err)
	}

	// A damaged or missing template file is an error, never a pass that
	// would not verify.
	sum := sha1.Sum(appletest.Unzip(t, whole)["icon.png"])
	key := apple.AssetKey(hex.EncodeToString(sum[:]))
	if err := blobs.Put(ctx, key, []byte("not the icon"), ""); err != nil {
		t.Fatal(err)
	}
	_, err = apple.NewFiles(blobs, vs).PassFile(ctx, v2)
	if pass.KindOf(err) != pass.KindUnavailable {
		t.Errorf("damaged icon: %v (kind %v), want unavailable", err, pass.KindOf(err))
	}
	if err := blobs.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	_, err = apple.NewFiles(blobs, vs).PassFile(ctx, v2)
	if pass.KindOf(err) != pass.KindUnavailable {
		t.Errorf("missing icon: %v (kind %v), want unavailable", err, pass.KindOf(err))
	}
	if _, err := apple.NewFiles(blobs, vs).PassFile(ctx, &pass.Pass{Tenant: "demo", SerialNumber: "nothing", Version: 1}); !errors.Is(err, pass.ErrNotFound) {
		t.Errorf("no such pass: %v", err)
	}
	vs["demo/serial-stored-1/9"] = []byte("not a zip")
	if _, err := apple.NewFiles(blobs, vs).PassFile(ctx, &pass.Pass{Tenant: "demo", SerialNumber: "serial-stored-1", Version: 9}); pass.KindOf(err) != pass.KindUnavailable {
		t.Errorf("not a zip: %v", err)
	}
}
