package storage_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"walletpass/pass"
	"walletpass/storage"
)

// pushFollows is what the domain has a new version of an existing pass
// queue when the tenant has neither an app nor Google Wallet: the push to
// its devices.
func pushFollows(p *pass.Pass) []pass.NewTask {
	return pass.FollowUps(pass.Change{Prev: p, Next: p}, pass.Policy{})
}

// legacyKey is where earlier releases stored version v of a pass as a
// file (versions now keep their stored form in the database).
func legacyKey(serial string, v int) string {
	return fmt.Sprintf("demo/passes/%s/v%d.pkpass", serial, v)
}

func newPass(serial string, movement int64) *pass.Pass {
	now := time.UnixMilli(1_800_000_000_000).UTC()
	return &pass.Pass{
		Tenant: "demo", SerialNumber: serial, AuthToken: pass.NewAuthToken(), PassTypeID: "pass.x.y", Template: "default",
		MovementID: movement, FileID: 7, OrderID: 8, TicketID: 9, Version: 1, UpdateTag: now.UnixMilli(),
		ContentHash: "h1", Status: pass.StatusActive, BlobKey: legacyKey(serial, 1), CreatedAt: now, UpdatedAt: now,
	}
}

func TestCreateGetUpdate(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		p := newPass("s1", 100)
		if err := db.CreatePass(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetPass(ctx, "demo", "s1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(p, got); diff != "" {
			t.Errorf("stored pass differs (-want +got):\n%s", diff)
		}
		byID, err := db.GetPassByIdentity(ctx, "demo", 100, 0)
		if err != nil || byID.SerialNumber != "s1" {
			t.Fatalf("by identity: %v, %v", byID, err)
		}
		next := *p
		next.Version, next.UpdateTag, next.ContentHash, next.Status = 2, p.UpdateTag+1, "h2", pass.StatusUsed
		next.BlobKey = legacyKey("s1", 2)
		if err := db.UpdatePass(ctx, &next, pushFollows(&next)); err != nil {
			t.Fatal(err)
		}
		vs, err := db.ListVersions(ctx, "demo", "s1")
		if err != nil || len(vs) != 2 || vs[1].ContentHash != "h2" || vs[1].Status != pass.StatusUsed {
			t.Fatalf("versions = %+v, %v", vs, err)
		}
		tasks, _ := db.ListTasks(ctx, pass.TaskPending, 10)
		if len(tasks) != 1 || tasks[0].Kind != pass.TaskPushPass || tasks[0].DedupKey != "pass:pass.x.y:s1" {
			t.Errorf("tasks after a new version = %+v, want its push task", tasks)
		}
		got, _ = db.GetPass(ctx, "demo", "s1")
		if got.AuthToken != p.AuthToken || got.Version != 2 {
			t.Errorf("after update: %+v", got)
		}
	})
}

func TestNotFoundAndTenantIsolation(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if err := db.CreatePass(ctx, newPass("s1", 100), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := db.GetPass(ctx, "other", "s1"); !errors.Is(err, pass.ErrNotFound) {
			t.Errorf("another tenant's pass: err = %v, want not found", err)
		}
		if _, err := db.GetPassByIdentity(ctx, "demo", 100, 1); !errors.Is(err, pass.ErrNotFound) || pass.KindOf(err) != pass.KindNotFound {
			t.Errorf("other holder generation: err = %v", err)
		}
	})
}

func TestConflicts(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		p := newPass("s1", 100)
		if err := db.CreatePass(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		if err := db.CreatePass(ctx, newPass("s2", 100), nil); pass.KindOf(err) != pass.KindConflict {
			t.Errorf("same identity: err = %v, want conflict", err)
		}
		if err := db.CreatePass(ctx, newPass("s1", 101), nil); pass.KindOf(err) != pass.KindConflict {
			t.Errorf("same serial: err = %v, want conflict", err)
		}
		stale := *p
		stale.Version = 3
		stale.UpdateTag++
		if err := db.UpdatePass(ctx, &stale, pushFollows(&stale)); pass.KindOf(err) != pass.KindConflict {
			t.Errorf("skipping a version: err = %v, want conflict", err)
		}
		back := *p
		back.Version = 2
		back.UpdateTag = p.UpdateTag - 1
		if err := db.UpdatePass(ctx, &back, pushFollows(&back)); pass.KindOf(err) != pass.KindConflict {
			t.Errorf("update tag going back: err = %v, want conflict", err)
		}
		vs, _ := db.ListVersions(ctx, "demo", "s1")
		if len(vs) != 1 {
			t.Errorf("a refused update wrote a version: %+v", vs)
		}
	})
}

func TestConcurrentUpdatesOneWins(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		p := newPass("s1", 100)
		if err := db.CreatePass(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				next := *p
				next.Version, next.UpdateTag, next.ContentHash = 2, p.UpdateTag+int64(i)+1, "h"
				if err := db.UpdatePass(ctx, &next, pushFollows(&next)); err == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				} else if pass.KindOf(err) != pass.KindConflict {
					t.Errorf("err = %v", err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Errorf("%d concurrent updates to version 2 won, want exactly 1", wins)
		}
	})
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d testDB) {
		ctx := context.Background()
		db, err := d.open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreatePass(ctx, newPass("s1", 1), nil); err != nil {
			t.Fatal(err)
		}
		db.Close()
		db = d.handle(t)
		if _, err := db.GetPass(ctx, "demo", "s1"); err != nil {
			t.Errorf("after reopening: %v", err)
		}
	})
}

// TestPassMetaNeverStale reads pass metadata (cached in memory) while the
// pass gets new versions: every read after an update returns at least
// that version, and the last read the last one.
func TestPassMetaNeverStale(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		p := newPass("s1", 100)
		if err := db.CreatePass(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := db.GetPassMeta(ctx, "demo", "s1"); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		for range 50 {
			next := *p
			next.Version++
			next.UpdateTag++
			next.Status = pass.StatusUsed
			if err := db.UpdatePass(ctx, &next, pushFollows(&next)); err != nil {
				t.Fatal(err)
			}
			p = &next
			got, err := db.GetPassMeta(ctx, "demo", "s1")
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != p.Version || got.UpdateTag != p.UpdateTag {
				t.Fatalf("after version %d: read version %d (tag %d, want %d)", p.Version, got.Version, got.UpdateTag, p.UpdateTag)
			}
		}
		close(stop)
		wg.Wait()
	})
}

// TestPassMetaSeesAnotherProcess: on SQLite another process may write
// the file (walletpass holders erase, beside the running service): the
// pass metadata this store has in memory is forgotten before it claims a
// task (the push that process queued with its change), and within a
// moment anyway, so a phone never gets a 304 for a version it lacks.
func TestPassMetaSeesAnotherProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "w.db")
	server, err := storage.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	p := newPass("s1", 100)
	if err := server.CreatePass(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := server.GetPassMeta(ctx, "demo", "s1"); err != nil || got.Version != p.Version {
		t.Fatalf("meta %+v %v", got, err)
	}
	cli, err := storage.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	write := func(from *pass.Pass) *pass.Pass {
		t.Helper()
		next := *from
		next.Version++
		next.UpdateTag++
		if err := cli.UpdatePass(ctx, &next, pushFollows(&next)); err != nil {
			t.Fatal(err)
		}
		return &next
	}
	p = write(p)
	// The push the other process queued is claimed: the cache forgot first.
	if _, err := server.Claim(ctx, time.Now(), time.Minute, 10); err != nil {
		t.Fatal(err)
	}
	if got, err := server.GetPassMeta(ctx, "demo", "s1"); err != nil || got.Version != p.Version {
		t.Errorf("after the other process's write and a claim: version %d (%v), want %d", got.Version, err, p.Version)
	}
	// Without a claim: within a moment.
	p = write(p)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := server.GetPassMeta(ctx, "demo", "s1")
		if err == nil && got.Version == p.Version {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other process's version %d never showed (%v)", p.Version, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cli.Close()
}

func TestPassesOfOrdersAndMovements(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		for _, p := range []struct {
			serial, secret string
			movement       int64
			gen            int
		}{{"s1", "order-a", 100, 0}, {"s2", "order-a", 100, 1}, {"s3", "order-a", 101, 0}, {"s4", "order-b", 200, 0}} {
			np := newPass(p.serial, p.movement)
			np.HolderGeneration, np.SecretToken = p.gen, p.secret
			if err := db.CreatePass(ctx, np, nil); err != nil {
				t.Fatal(err)
			}
		}
		latest, err := db.LatestPassForMovement(ctx, "demo", 100)
		if err != nil || latest.SerialNumber != "s2" {
			t.Errorf("latest of movement 100 = %v, %v; want s2", latest, err)
		}
		if _, err := db.LatestPassForMovement(ctx, "demo", 999); !errors.Is(err, pass.ErrNotFound) {
			t.Errorf("latest of an unknown movement: %v", err)
		}
		ps, err := db.PassesByOrder(ctx, "demo", "order-a")
		var serials []string
		for _, p := range ps {
			serials = append(serials, p.SerialNumber)
		}
		if err != nil || !cmp.Equal(serials, []string{"s1", "s2", "s3"}) {
			t.Errorf("passes of order-a = %v, %v", serials, err)
		}
		meta, err := db.GetPassMeta(ctx, "demo", "s4")
		if err != nil || meta.SecretToken != "order-b" || meta.Version != 1 {
			t.Errorf("meta = %+v, %v", meta, err)
		}
		if _, err := db.GetPassMeta(ctx, "demo", "nope"); !errors.Is(err, pass.ErrNotFound) {
			t.Errorf("meta of an unknown pass: %v", err)
		}
		refs, err := db.RecentOrders(ctx, time.UnixMilli(1_800_000_000_000), 10)
		if err != nil || len(refs) != 2 {
			t.Errorf("recent orders = %v, %v; want 2", refs, err)
		}
		if refs, _ := db.RecentOrders(ctx, time.UnixMilli(1_800_000_000_001), 10); len(refs) != 0 {
			t.Errorf("orders changed later = %v", refs)
		}
	})
}

// TestVersionContent: a version's stored form is written with its row and
// read back by version; versions of earlier releases (a file) have none;
// dropping the files of older versions removes their stored forms and
// returns the keys of their files.
func TestVersionContent(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		p := newPass("vc1", 300) // v1: a file, as earlier releases stored it
		if err := db.CreatePass(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := db.VersionContent(ctx, "demo", "vc1", 1); !errors.Is(err, pass.ErrNotFound) {
			t.Errorf("a version stored as a file: %v, want not found", err)
		}
		for v := 2; v <= 3; v++ {
			next := *p
			next.Version, next.UpdateTag, next.ContentHash = v, p.UpdateTag+int64(v), fmt.Sprintf("h%d", v)
			next.BlobKey, next.Content = "", []byte(fmt.Sprintf("PK stored form %d \x00\xff", v))
			if err := db.UpdatePass(ctx, &next, nil); err != nil {
				t.Fatal(err)
			}
		}
		for v := 2; v <= 3; v++ {
			got, err := db.VersionContent(ctx, "demo", "vc1", v)
			if want := fmt.Sprintf("PK stored form %d \x00\xff", v); err != nil || string(got) != want {
				t.Errorf("version %d: %q, %v; want %q", v, got, err, want)
			}
		}
		if _, err := db.VersionContent(ctx, "demo", "vc1", 4); !errors.Is(err, pass.ErrNotFound) {
			t.Errorf("no such version: %v", err)
		}
		keys, dropped, err := db.DropVersionFiles(ctx, "demo", "vc1", 3)
		if err != nil || dropped != 1 || len(keys) != 1 || keys[0] != legacyKey("vc1", 1) {
			t.Fatalf("drop: keys %v, %d stored forms, %v", keys, dropped, err)
		}
		if _, err := db.VersionContent(ctx, "demo", "vc1", 2); !errors.Is(err, pass.ErrNotFound) {
			t.Errorf("an older version keeps its stored form: %v", err)
		}
		if got, err := db.VersionContent(ctx, "demo", "vc1", 3); err != nil || len(got) == 0 {
			t.Errorf("the latest version lost its stored form: %v", err)
		}
	})
}
