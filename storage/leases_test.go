package storage_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"walletpass/pass"
)

// TestLeases: a lease has one holder at a time across handles (two
// instances): of holders that try at once, one gets it; its holder
// extends it, nobody else does before it expires; an expired lease goes
// to the next taker, and a release by a holder who lost it leaves the new
// holder's lease in place.
func TestLeases(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d testDB) {
		ctx := context.Background()
		a, b := d.handle(t), d.handle(t)
		now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
		const name = "google-class/demo/issuer.perf-99"

		var won atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			db := a
			if i%2 == 1 {
				db = b
			}
			wg.Go(func() {
				ok, err := db.TakeLease(ctx, name, fmt.Sprintf("holder-%d", i), now, now.Add(time.Minute))
				if err != nil {
					t.Error(err)
				}
				if ok {
					won.Add(1)
				}
			})
		}
		wg.Wait()
		if n := won.Load(); n != 1 {
			t.Fatalf("%d of 8 holders took the lease at once, want 1", n)
		}
		if err := a.ReleaseLease(ctx, name, ""); err != nil { // nobody's: no effect
			t.Fatal(err)
		}
		take := func(db pass.Leases, holder string, at time.Time) bool {
			t.Helper()
			ok, err := db.TakeLease(ctx, name, holder, at, at.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		// Release whoever won, then the lease is free again.
		for i := range 8 {
			if err := b.ReleaseLease(ctx, name, fmt.Sprintf("holder-%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		if !take(a, "first", now) {
			t.Fatal("a released lease was not free")
		}
		if take(b, "second", now.Add(59*time.Second)) {
			t.Error("a lease was taken from its holder before it expired")
		}
		if !take(a, "first", now.Add(50*time.Second)) { // renewed: now until 1m50s
			t.Error("its holder could not extend the lease")
		}
		if take(b, "second", now.Add(90*time.Second)) {
			t.Error("a renewed lease was taken at its first term's end")
		}
		if !take(b, "second", now.Add(110*time.Second)) {
			t.Fatal("an expired lease was not taken over")
		}
		if err := a.ReleaseLease(ctx, name, "first"); err != nil {
			t.Fatal(err)
		}
		if take(a, "third", now.Add(111*time.Second)) {
			t.Error("the release of a lapsed holder ended the new holder's lease")
		}
		if err := b.ReleaseLease(ctx, name, "second"); err != nil {
			t.Fatal(err)
		}
		if !take(a, "third", now.Add(111*time.Second)) {
			t.Error("a released lease was not free")
		}
		if ok, err := a.TakeLease(ctx, "google-class/demo/issuer.perf-100", "other", now, now.Add(time.Minute)); err != nil || !ok {
			t.Error("another name's lease was not free")
		}
	})
}
