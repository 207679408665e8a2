package storage_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"walletpass/pass"
	"walletpass/storage"
)

func openTest(t *testing.T) *storage.DB {
	t.Helper()
	db, err := storage.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newPass(serial string, movement int64) *pass.Pass {
	now := time.UnixMilli(1_800_000_000_000).UTC()
	return &pass.Pass{
		Tenant: "demo", SerialNumber: serial, AuthToken: pass.NewAuthToken(), PassTypeID: "pass.x.y", Template: "default",
		MovementID: movement, FileID: 7, OrderID: 8, TicketID: 9, Version: 1, UpdateTag: now.UnixMilli(),
		ContentHash: "h1", Status: pass.StatusActive, BlobKey: pass.BlobKey("demo", serial, 1), CreatedAt: now, UpdatedAt: now,
	}
}

func TestCreateGetUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	p := newPass("s1", 100)
	if err := db.CreatePass(ctx, p); err != nil {
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
	next.BlobKey = pass.BlobKey("demo", "s1", 2)
	if err := db.UpdatePass(ctx, &next); err != nil {
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
}

func TestNotFoundAndTenantIsolation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	if err := db.CreatePass(ctx, newPass("s1", 100)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetPass(ctx, "other", "s1"); !errors.Is(err, pass.ErrNotFound) {
		t.Errorf("another tenant's pass: err = %v, want not found", err)
	}
	if _, err := db.GetPassByIdentity(ctx, "demo", 100, 1); !errors.Is(err, pass.ErrNotFound) || pass.KindOf(err) != pass.KindNotFound {
		t.Errorf("other holder generation: err = %v", err)
	}
}

func TestConflicts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	p := newPass("s1", 100)
	if err := db.CreatePass(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := db.CreatePass(ctx, newPass("s2", 100)); pass.KindOf(err) != pass.KindConflict {
		t.Errorf("same identity: err = %v, want conflict", err)
	}
	if err := db.CreatePass(ctx, newPass("s1", 101)); pass.KindOf(err) != pass.KindConflict {
		t.Errorf("same serial: err = %v, want conflict", err)
	}
	stale := *p
	stale.Version = 3
	stale.UpdateTag++
	if err := db.UpdatePass(ctx, &stale); pass.KindOf(err) != pass.KindConflict {
		t.Errorf("skipping a version: err = %v, want conflict", err)
	}
	back := *p
	back.Version = 2
	back.UpdateTag = p.UpdateTag - 1
	if err := db.UpdatePass(ctx, &back); pass.KindOf(err) != pass.KindConflict {
		t.Errorf("update tag going back: err = %v, want conflict", err)
	}
	vs, _ := db.ListVersions(ctx, "demo", "s1")
	if len(vs) != 1 {
		t.Errorf("a refused update wrote a version: %+v", vs)
	}
}

func TestConcurrentUpdatesOneWins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	p := newPass("s1", 100)
	if err := db.CreatePass(ctx, p); err != nil {
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
			if err := db.UpdatePass(ctx, &next); err == nil {
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
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "w.db")
	db, err := storage.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreatePass(ctx, newPass("s1", 1)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = storage.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.GetPass(ctx, "demo", "s1"); err != nil {
		t.Errorf("after reopening: %v", err)
	}
}

// TestPassMetaNeverStale reads pass metadata (cached in memory) while the
// pass gets new versions: every read after an update returns at least
// that version, and the last read the last one.
func TestPassMetaNeverStale(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	p := newPass("s1", 100)
	if err := db.CreatePass(ctx, p); err != nil {
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
		if err := db.UpdatePass(ctx, &next); err != nil {
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
}
