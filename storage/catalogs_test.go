package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"walletpass/pass"
	"walletpass/storage"
)

// TestCatalogStore: of the instances asking to read an institution's
// catalogue within the interval, one may; what it stores, all load; an
// older copy never replaces a newer one.
func TestCatalogStore(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		const key, iv = "https://x|MOSA", 10 * time.Minute
		if _, _, _, err := db.LoadCatalog(ctx, key); !errors.Is(err, pass.ErrNotFound) {
			t.Fatalf("load before any: %v, want not found", err)
		}
		if _, err := db.CatalogFetchedAt(ctx, key); !errors.Is(err, pass.ErrNotFound) {
			t.Fatalf("its time before any: %v, want not found", err)
		}
		for i, want := range []bool{true, false, false} {
			ok, last, err := db.ClaimCatalogFetch(ctx, key, t0.Add(time.Duration(i)*time.Minute), iv)
			if err != nil || ok != want || (!ok && !last.Equal(t0)) {
				t.Fatalf("claim %d: %v %s %v, want %v (last attempt %s)", i, ok, last, err, want, t0)
			}
		}
		if err := db.SaveCatalog(ctx, key, []byte(`{"catalogData":{}}`), "s1", t0); err != nil {
			t.Fatal(err)
		}
		if err := db.SaveCatalog(ctx, key, []byte(`{"old":true}`), "s0", t0.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		body, stamp, at, err := db.LoadCatalog(ctx, key)
		if err != nil || string(body) != `{"catalogData":{}}` || stamp != "s1" || !at.Equal(t0) {
			t.Errorf("load: %s %s %s %v", body, stamp, at, err)
		}
		if at, err := db.CatalogFetchedAt(ctx, key); err != nil || !at.Equal(t0) {
			t.Errorf("its time: %s %v, want %s", at, err, t0)
		}
		if ok, _, err := db.ClaimCatalogFetch(ctx, key, t0.Add(iv), iv); err != nil || !ok {
			t.Errorf("claim after the interval: %v %v, want true", ok, err)
		}
		if ok, _, _ := db.ClaimCatalogFetch(ctx, "other", t0, iv); !ok {
			t.Errorf("another institution's claim was refused")
		}
	})
}
