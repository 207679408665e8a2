package blob_test

import (
	"testing"

	"walletpass/pass"
	"walletpass/storage/blob"
	"walletpass/storage/blob/blobtest"
)

// TestConformance runs the blob store suite on a Dir, a fresh directory
// per subtest.
func TestConformance(t *testing.T) {
	t.Parallel()
	blobtest.Run(t, func(t *testing.T) pass.BlobStore {
		d, err := blob.NewDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}
