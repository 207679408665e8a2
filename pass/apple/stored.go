package apple

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"sync"

	"walletpass/pass"
)

// How a version of a pass is stored. The files a template gives every pass
// (images, translations) are the bulk of a .pkpass (hundreds of kilobytes)
// and the same in each of its versions; what changes is pass.json, its
// manifest and the signature (a few kilobytes). So a version is stored as
// a .pkpass holding only those three (Issuer.PackageSigned, the stored
// form), in the database with the version's row, and each template file
// once, in the blob store under AssetKey of its SHA-1, as its manifest
// names it. Files puts the two together when a phone downloads the pass:
// the result holds the files Package writes, and the signature (made over
// the manifest) is the one made when the version was signed. Versions that
// earlier releases stored as files (whole, or in the stored form) are read
// from the blob store.

// AssetKey is where the template file whose SHA-1 is sha1hex is stored.
func AssetKey(sha1hex string) string { return "assets/" + sha1hex }

// maxManifest bounds the manifest read from a stored pass.
const maxManifest = 64 << 10

// VersionContents reads the stored form of a version (storage.DB is one).
type VersionContents interface {
	// VersionContent returns the stored form of version v of a pass, or
	// an error wrapping pass.ErrNotFound when it has none.
	VersionContent(ctx context.Context, tenant, serial string, v int) ([]byte, error)
}

// Files reads stored passes and completes them with the template files
// their manifests name. It is safe for concurrent use.
type Files struct {
	blobs    pass.BlobStore
	versions VersionContents
	mu       sync.RWMutex
	cache    map[string][]byte // template files by SHA-1 (hex)
}

// NewFiles returns a reader of the passes whose versions are in versions,
// with the template files (and the files of earlier releases) in blobs.
func NewFiles(blobs pass.BlobStore, versions VersionContents) *Files {
	return &Files{blobs: blobs, versions: versions, cache: map[string][]byte{}}
}

// AddTemplate stores each of t's files under its AssetKey (the same bytes
// under the same key: storing again changes nothing) and keeps it at hand.
// Every instance does it when it loads its templates, before it signs a
// pass with them, so that every stored version's files can be found,
// whichever instance and template revision signed it.
func (f *Files) AddTemplate(ctx context.Context, t *Template) error {
	for _, sf := range t.files {
		if err := f.blobs.Put(ctx, AssetKey(sf.sha1), sf.data, "application/octet-stream"); err != nil {
			return fmt.Errorf("apple: template %s: store %s: %w", t.Name, sf.name, err)
		}
		f.mu.Lock()
		f.cache[sf.sha1] = sf.data
		f.mu.Unlock()
	}
	return nil
}

// PassFile returns version p.Version of pass p as a phone downloads it:
// its stored form and the template files its manifest names (a version an
// earlier release stored whole is returned as it is). It returns an error
// wrapping pass.ErrNotFound when the version has no file (none stored, or
// erased), and one of kind pass.KindUnavailable when a template file it
// names is missing or damaged.
func (f *Files) PassFile(ctx context.Context, p *pass.Pass) ([]byte, error) {
	data, err := f.versions.VersionContent(ctx, p.Tenant, p.SerialNumber, p.Version)
	if errors.Is(err, pass.ErrNotFound) && p.BlobKey != "" {
		data, err = f.blobs.Get(ctx, p.BlobKey)
	}
	if err != nil {
		return nil, err
	}
	return f.Complete(ctx, data)
}

// Complete adds to a stored pass the files its manifest names that it
// does not hold.
func (f *Files) Complete(ctx context.Context, stored []byte) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(stored), int64(len(stored)))
	if err != nil {
		return nil, pass.Wrap(pass.KindUnavailable, err, "apple: stored pass")
	}
	held := make(map[string]bool, len(zr.File))
	var mf *zip.File
	for _, e := range zr.File {
		held[e.Name] = true
		if e.Name == "manifest.json" {
			mf = e
		}
	}
	if mf == nil {
		return nil, pass.Errorf(pass.KindUnavailable, "apple: stored pass: no manifest.json")
	}
	manifest, err := readEntry(mf, maxManifest)
	if err != nil {
		return nil, pass.Wrap(pass.KindUnavailable, err, "apple: stored pass: manifest.json")
	}
	var sums map[string]string
	if err := json.Unmarshal(manifest, &sums); err != nil {
		return nil, pass.Wrap(pass.KindUnavailable, err, "apple: stored pass: manifest.json")
	}
	var missing []string
	for name := range sums {
		if !held[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return stored, nil
	}
	slices.Sort(missing)
	assets := make([][]byte, len(missing))
	size := len(stored)
	for i, name := range missing {
		if assets[i], err = f.asset(ctx, sums[name]); err != nil {
			return nil, fmt.Errorf("apple: stored pass: %s: %w", name, err)
		}
		size += len(assets[i]) + 128 + 2*len(name)
	}
	var out bytes.Buffer
	out.Grow(size)
	zw := zip.NewWriter(&out)
	for _, e := range zr.File {
		if err := zw.Copy(e); err != nil {
			return nil, pass.Wrap(pass.KindUnavailable, err, "apple: stored pass: "+e.Name)
		}
	}
	modified := mf.Modified
	for i, name := range missing {
		if err := writeStored(zw, name, assets[i], crc32.ChecksumIEEE(assets[i]), modified); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("apple: zip: %w", err)
	}
	return out.Bytes(), nil
}

// asset returns the template file whose SHA-1 is sum, checked against it.
func (f *Files) asset(ctx context.Context, sum string) ([]byte, error) {
	if len(sum) != 2*sha1.Size {
		return nil, pass.Errorf(pass.KindUnavailable, "the manifest's checksum %q is not a SHA-1", sum)
	}
	f.mu.RLock()
	data, ok := f.cache[sum]
	f.mu.RUnlock()
	if ok {
		return data, nil
	}
	data, err := f.blobs.Get(ctx, AssetKey(sum))
	if errors.Is(err, pass.ErrNotFound) {
		return nil, pass.Wrap(pass.KindUnavailable, err, "the template file is not stored")
	}
	if err != nil {
		return nil, err
	}
	if got := sha1.Sum(data); hex.EncodeToString(got[:]) != sum {
		return nil, pass.Errorf(pass.KindUnavailable, "the stored template file %s is damaged (SHA-1 %x)", sum, got)
	}
	f.mu.Lock()
	f.cache[sum] = data
	f.mu.Unlock()
	return data, nil
}

func readEntry(e *zip.File, limit int64) ([]byte, error) {
	if e.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%d bytes, the limit is %d", e.UncompressedSize64, limit)
	}
	r, err := e.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, limit))
}
