package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"walletpass/pass"
	"walletpass/storage"
)

// googleTasks returns the dedup keys of the pending google-sync tasks.
func googleTasks(t *testing.T, db interface {
	ListTasks(context.Context, pass.TaskState, int) ([]pass.Task, error)
}) []string {
	t.Helper()
	tasks, err := db.ListTasks(context.Background(), pass.TaskPending, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tk := range tasks {
		if tk.Kind == pass.TaskGoogleSync {
			out = append(out, tk.DedupKey)
		}
	}
	return out
}

func TestGoogleObjectsFollowPasses(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		p := newPass("s1", 100)
		if err := db.CreatePass(ctx, p); err != nil {
			t.Fatal(err)
		}
		next := func(p *pass.Pass) *pass.Pass {
			n := *p
			n.Version++
			n.UpdateTag++
			n.UpdatedAt = n.UpdatedAt.Add(time.Second)
			if err := db.UpdatePass(ctx, &n); err != nil {
				t.Fatal(err)
			}
			return &n
		}
		// No object at Google: a new version queues no Google work.
		p = next(p)
		if got := googleTasks(t, db); len(got) != 0 {
			t.Fatalf("google tasks without an object: %v", got)
		}
		if _, err := db.GoogleObject(ctx, "demo", "s1"); !errors.Is(err, pass.ErrNotFound) {
			t.Fatalf("record: %v", err)
		}
		rec := &pass.GoogleObject{Tenant: "demo", Serial: "s1", ObjectID: "1.demo-s1", ClassID: "1.demo-p1", Version: 2, State: "ACTIVE",
			Shown: `{"seat":"Row 1"}`, Notified: []time.Time{time.UnixMilli(1_800_000_000_000).UTC()},
			ExpiresAt: time.UnixMilli(1_800_000_100_000).UTC(), UpdatedAt: time.UnixMilli(1_800_000_000_500).UTC()}
		if err := db.PutGoogleObject(ctx, rec); err != nil {
			t.Fatal(err)
		}
		got, err := db.GoogleObject(ctx, "demo", "s1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(rec, got); diff != "" {
			t.Errorf("record (-want +got):\n%s", diff)
		}
		// With an object: the next version queues its sync in the same write.
		next(p)
		if got := googleTasks(t, db); !cmp.Equal(got, []string{"google:s1"}) {
			t.Errorf("google tasks = %v", got)
		}
		// Expiring: ACTIVE objects whose expiry passed.
		refs, err := db.GoogleExpiring(ctx, time.UnixMilli(1_800_000_100_000), 10)
		if err != nil || len(refs) != 1 || refs[0].Serial != "s1" {
			t.Errorf("expiring = %v, %v", refs, err)
		}
		if refs, _ := db.GoogleExpiring(ctx, time.UnixMilli(1_800_000_099_999), 10); len(refs) != 0 {
			t.Errorf("expiring too early: %v", refs)
		}
		// Classes.
		if _, err := db.GoogleClassHash(ctx, "demo", "c"); !errors.Is(err, pass.ErrNotFound) {
			t.Errorf("class: %v", err)
		}
		for _, h := range []string{"h1", "h2"} {
			if err := db.PutGoogleClassHash(ctx, "demo", "c", h, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if h, err := db.GoogleClassHash(ctx, "demo", "c"); err != nil || h != "h2" {
			t.Errorf("class hash = %q, %v", h, err)
		}
	})
}

func TestGoogleInsertOnPayment(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		db.GoogleOnPayment = func(tenant string) bool { return tenant == "demo" }
		if err := db.CreatePass(ctx, newPass("s1", 100)); err != nil {
			t.Fatal(err)
		}
		other := newPass("s2", 101)
		other.Tenant = "other"
		if err := db.CreatePass(ctx, other); err != nil {
			t.Fatal(err)
		}
		if got := googleTasks(t, db); !cmp.Equal(got, []string{"google:s1"}) {
			t.Errorf("google tasks = %v, want only the eager tenant's", got)
		}
	})
}
