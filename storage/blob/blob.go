// Package blob stores signed pass files. Dir keeps them in a local
// directory (the embedded default); every write is atomic: a temporary file
// in the same directory, synced, then renamed over the target.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"walletpass/pass"
)

// Dir is a blob store in a local directory. It implements pass.BlobStore.
type Dir struct {
	root string
}

// NewDir returns a store rooted at root, creating the directory if needed.
func NewDir(root string) (*Dir, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	return &Dir{root: root}, nil
}

// Ping reports whether the directory is still there (readiness).
func (d *Dir) Ping(context.Context) error {
	if !isDir(d.root) {
		return fmt.Errorf("blob: %s is not a directory", d.root)
	}
	return nil
}

// keyRE allows slash-separated segments of safe characters, no dot-dot.
var keyRE = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$`)

func (d *Dir) path(key string) (string, error) {
	if len(key) > 512 || !keyRE.MatchString(key) {
		return "", pass.Errorf(pass.KindInvalid, "blob: invalid key %q", key)
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// Put writes data under key atomically. The content type is implied by the
// key's extension for this store.
func (d *Dir) Put(_ context.Context, key string, data []byte, _ string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("blob: put %s: %w", key, err)
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("blob: put %s: %w", key, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("blob: put %s: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("blob: put %s: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("blob: put %s: %w", key, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("blob: put %s: %w", key, err)
	}
	ok = true
	return nil
}

// Delete removes the content under key; a missing key is not an error.
func (d *Dir) Delete(_ context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	return nil
}

// Get returns the content under key, or an error wrapping pass.ErrNotFound.
func (d *Dir) Get(_ context.Context, key string) ([]byte, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) || isDir(p) {
		// A key that is only the start of other keys holds nothing, as in
		// an object store.
		return nil, fmt.Errorf("blob: %s: %w", key, pass.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("blob: get %s: %w", key, err)
	}
	return b, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

var _ pass.BlobStore = (*Dir)(nil)
