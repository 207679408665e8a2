package blob_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"walletpass/pass"
	"walletpass/storage/blob"
)

func TestPutGet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	d, err := blob.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	key := "demo/passes/abc/v1.pkpass"
	if err := d.Put(ctx, key, []byte("one"), "application/vnd.apple.pkpass"); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, key, []byte("two"), "application/vnd.apple.pkpass"); err != nil {
		t.Fatal(err)
	}
	got, err := d.Get(ctx, key)
	if err != nil || !bytes.Equal(got, []byte("two")) {
		t.Fatalf("got %q, %v; want the replaced content", got, err)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "demo", "passes", "abc"))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if _, err := d.Get(ctx, "demo/passes/none.pkpass"); !errors.Is(err, pass.ErrNotFound) {
		t.Errorf("missing key: err = %v, want not found", err)
	}
}

func TestRejectsUnsafeKeys(t *testing.T) {
	t.Parallel()
	d, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"", "../etc/passwd", "a/../../b", "/abs", "a//b", ".hidden", "a/.", `a\b`} {
		if err := d.Put(context.Background(), key, []byte("x"), ""); pass.KindOf(err) != pass.KindInvalid {
			t.Errorf("Put(%q): err = %v, want invalid", key, err)
		}
		if _, err := d.Get(context.Background(), key); pass.KindOf(err) != pass.KindInvalid {
			t.Errorf("Get(%q): err = %v, want invalid", key, err)
		}
	}
}
