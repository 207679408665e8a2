package storage_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"walletpass/pass"
	"walletpass/storage"
)

func TestCustomerDevicesAndAPIKeys(t *testing.T) {
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.UnixMilli(1_800_000_000_000).UTC()
		d := pass.AppInstallation{Tenant: "demo", SecretToken: "sec1", FCMToken: "tok1", Platform: "ios", Locale: "fr", CreatedAt: now}
		if created, err := db.RegisterInstallation(ctx, d); err != nil || !created {
			t.Fatalf("register: %v %v", created, err)
		}
		d.Locale = "de"
		if created, err := db.RegisterInstallation(ctx, d); err != nil || created {
			t.Fatalf("register again: %v %v", created, err)
		}
		other := d
		other.SecretToken, other.FCMToken = "sec2", "tok1"
		if _, err := db.RegisterInstallation(ctx, other); err != nil {
			t.Fatal(err)
		}
		ds, err := db.Installations(ctx, "demo", "sec1")
		if err != nil || len(ds) != 1 || ds[0].Locale != "de" || ds[0].Platform != "ios" {
			t.Fatalf("devices: %+v %v", ds, err)
		}
		if sent, _ := db.NoticeSent(ctx, "demo", "sec1", pass.NoticeReady, "tok1"); sent {
			t.Error("a notice sent before any was")
		}
		for range 2 {
			if err := db.MarkNoticeSent(ctx, "demo", "sec1", pass.NoticeReady, "tok1", now); err != nil {
				t.Fatal(err)
			}
		}
		if sent, _ := db.NoticeSent(ctx, "demo", "sec1", pass.NoticeReady, "tok1"); !sent {
			t.Error("the notice is not recorded")
		}
		if n, err := db.ForgetFCMToken(ctx, "demo", "tok1"); err != nil || n != 2 {
			t.Errorf("forget: %d %v", n, err)
		}
		if ds, _ := db.Installations(ctx, "demo", "sec2"); len(ds) != 0 {
			t.Errorf("after forgetting: %+v", ds)
		}
		if err := db.UnregisterInstallation(ctx, "demo", "sec1", "nope"); err != nil {
			t.Errorf("unregister unknown: %v", err)
		}

		// API keys.
		k := storage.APIKey{Tenant: "demo", ID: "k1", Name: "shop", Hash: "h1", CreatedAt: now}
		if err := db.CreateAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		got, err := db.APIKeyByHash(ctx, "h1")
		if err != nil || got.Tenant != "demo" || got.ID != "k1" || !got.RevokedAt.IsZero() {
			t.Fatalf("by hash: %+v %v", got, err)
		}
		if _, err := db.APIKeyByHash(ctx, "nope"); !errors.Is(err, pass.ErrNotFound) {
			t.Errorf("unknown hash: %v", err)
		}
		if err := db.RevokeAPIKey(ctx, "other", "k1", now); !errors.Is(err, pass.ErrNotFound) {
			t.Errorf("another tenant revokes: %v", err)
		}
		if err := db.RevokeAPIKey(ctx, "demo", "k1", now); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.APIKeyByHash(ctx, "h1"); got.RevokedAt.IsZero() {
			t.Error("not revoked")
		}
		if err := db.RevokeAPIKey(ctx, "demo", "k1", now); !errors.Is(err, pass.ErrNotFound) {
			t.Errorf("revoked twice: %v", err)
		}
		if keys, err := db.APIKeys(ctx, "demo"); err != nil || len(keys) != 1 {
			t.Errorf("list: %+v %v", keys, err)
		}
		// Scopes: a key made without any may read tickets only.
		if !slices.Equal(got.Scopes, []string{"tickets:read"}) {
			t.Errorf("default scopes: %v", got.Scopes)
		}
		gate := storage.APIKey{Tenant: "demo", ID: "k2", Name: "gate", Hash: "h2", CreatedAt: now, Scopes: []string{"scans:write", "passes:read"}}
		if err := db.CreateAPIKey(ctx, gate); err != nil {
			t.Fatal(err)
		}
		if got, err := db.APIKeyByHash(ctx, "h2"); err != nil || !slices.Equal(got.Scopes, gate.Scopes) {
			t.Errorf("scopes: %+v %v", got, err)
		}
	})
}

// TestInstallationsPerOrder: an order takes pass.MaxInstallationsPerOrder
// app installations, however many two instances register at once; past
// it a new one is refused (KindConflict) and one registered already is
// registered again; another order is not counted, and a removal makes
// room.
func TestInstallationsPerOrder(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d testDB) {
		ctx := context.Background()
		handles := []*storage.DB{d.handle(t), d.handle(t)}
		now := time.UnixMilli(1_800_000_000_000).UTC()
		inst := func(order string, i int) pass.AppInstallation {
			return pass.AppInstallation{Tenant: "demo", SecretToken: order, FCMToken: fmt.Sprintf("tok%03d", i),
				Platform: "android", Locale: "fr", CreatedAt: now}
		}
		// Twice the most, from two handles at once.
		start := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		created, refused := 0, 0
		for i := range 2 * pass.MaxInstallationsPerOrder {
			wg.Go(func() {
				<-start
				ok, err := handles[i%2].RegisterInstallation(ctx, inst("sec1", i))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && ok:
					created++
				case pass.KindOf(err) == pass.KindConflict && !ok:
					refused++
				default:
					t.Errorf("installation %d: %v %v, want created or a conflict", i, ok, err)
				}
			})
		}
		close(start)
		wg.Wait()
		ins, err := handles[0].Installations(ctx, "demo", "sec1")
		if err != nil {
			t.Fatal(err)
		}
		if len(ins) != pass.MaxInstallationsPerOrder || created != pass.MaxInstallationsPerOrder || refused != pass.MaxInstallationsPerOrder {
			t.Fatalf("%d installations stored, %d created, %d refused; want %d of each", len(ins), created, refused, pass.MaxInstallationsPerOrder)
		}
		// At the most: one registered already is registered again (its
		// locale updated), a new one is refused.
		again := ins[0]
		again.Locale = "de"
		if ok, err := handles[1].RegisterInstallation(ctx, again); err != nil || ok {
			t.Errorf("an installation registered already, again at the most: %v %v; want not created, no error", ok, err)
		}
		if ins, _ := handles[0].Installations(ctx, "demo", "sec1"); !slices.ContainsFunc(ins, func(i pass.AppInstallation) bool {
			return i.FCMToken == again.FCMToken && i.Locale == "de"
		}) {
			t.Errorf("the locale registered again is not stored: %+v", ins)
		}
		if ok, err := handles[0].RegisterInstallation(ctx, inst("sec1", 999)); pass.KindOf(err) != pass.KindConflict || ok {
			t.Errorf("one installation too many: %v %v; want a conflict", ok, err)
		}
		// Another order of the tenant has its own count.
		if ok, err := handles[0].RegisterInstallation(ctx, inst("sec2", 999)); err != nil || !ok {
			t.Errorf("another order: %v %v", ok, err)
		}
		// A removal makes room for one.
		if err := handles[1].UnregisterInstallation(ctx, "demo", "sec1", ins[1].FCMToken); err != nil {
			t.Fatal(err)
		}
		if ok, err := handles[0].RegisterInstallation(ctx, inst("sec1", 999)); err != nil || !ok {
			t.Errorf("after a removal: %v %v", ok, err)
		}
	})
}
