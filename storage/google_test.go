package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
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
		if err := db.CreatePass(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		// The domain decides the follow-ups; the store writes them with
		// the version.
		pol := pass.Policy{Google: true}
		next := func(p *pass.Pass) *pass.Pass {
			n := *p
			n.Version++
			n.UpdateTag++
			n.UpdatedAt = n.UpdatedAt.Add(time.Second)
			change := pass.Change{Prev: p, Next: &n}
			if err := db.UpdatePass(ctx, &n, pass.FollowUps(change, pol)); err != nil {
				t.Fatal(err)
			}
			return &n
		}
		// A new version queues the pass's Google sync in the same write,
		// with or without an object at Google (the task reads which).
		p = next(p)
		if got := googleTasks(t, db); !cmp.Equal(got, []string{"google:s1"}) {
			t.Fatalf("google tasks = %v", got)
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
		// With an object, the same: one task (changes close together
		// coalesce).
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
		if _, err := db.GoogleClass(ctx, "demo", "c"); !errors.Is(err, pass.ErrNotFound) {
			t.Errorf("class: %v", err)
		}
		at := time.UnixMilli(1_800_000_000_000).UTC()
		for _, h := range []string{"h1", "h2"} {
			c := &pass.GoogleClass{Tenant: "demo", ClassID: "c", Hash: h, Shown: `{"start":"x"}`, Notified: []time.Time{at},
				NoticeID: "n-" + h, UpdatedAt: at}
			if err := db.PutGoogleClass(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		want := &pass.GoogleClass{Tenant: "demo", ClassID: "c", Hash: "h2", Shown: `{"start":"x"}`, Notified: []time.Time{at},
			NoticeID: "n-h2", UpdatedAt: at}
		if c, err := db.GoogleClass(ctx, "demo", "c"); err != nil || !cmp.Equal(c, want) {
			t.Errorf("class = %+v, %v", c, err)
		}
	})
}

func TestGoogleInsertOnPayment(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		pols := pass.Policies{"demo": {Google: true, GoogleOnPayment: true}, "other": {Google: true}}
		p := newPass("s1", 100)
		if err := db.CreatePass(ctx, p, pass.FollowUps(pass.Change{Next: p}, pols.For(p.Tenant))); err != nil {
			t.Fatal(err)
		}
		other := newPass("s2", 101)
		other.Tenant = "other"
		if err := db.CreatePass(ctx, other, pass.FollowUps(pass.Change{Next: other}, pols.For(other.Tenant))); err != nil {
			t.Fatal(err)
		}
		if got := googleTasks(t, db); !cmp.Equal(got, []string{"google:s1"}) {
			t.Errorf("google tasks = %v, want only the eager tenant's", got)
		}
	})
}

// A callback is recorded once per nonce, lands in its order's timeline,
// and the counts follow the last word on each object; another tenant
// sees none of it.
func TestGoogleCallbacks(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		p := newPass("s1", 100)
		p.SecretToken = "ORDER1"
		if err := db.CreatePass(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		if err := db.PutGoogleObject(ctx, &pass.GoogleObject{Tenant: "demo", Serial: "s1", ObjectID: "1.demo-s1", ClassID: "1.demo-p1",
			State: "ACTIVE", Shown: "{}", UpdatedAt: time.UnixMilli(1_800_000_000_000)}); err != nil {
			t.Fatal(err)
		}
		at := time.UnixMilli(1_800_000_001_000).UTC()
		cb := func(nonce, object, event string, after time.Duration) pass.GoogleCallback {
			return pass.GoogleCallback{Tenant: "demo", Nonce: nonce, ObjectID: object, ClassID: "1.demo-p1", EventType: event, ReceivedAt: at.Add(after),
				Announce: true}
		}
		for i, c := range []struct {
			cb    pass.GoogleCallback
			fresh bool
		}{
			{cb("n1", "1.demo-s1", pass.GoogleSaved, 0), true},
			{cb("n1", "1.demo-s1", pass.GoogleSaved, time.Second), false}, // a replay
			{cb("n2", "1.demo-s1", pass.GoogleDeleted, 2*time.Second), true},
			{cb("n3", "1.demo-s1", pass.GoogleSaved, 3*time.Second), true},
			{cb("n4", "1.demo-gone", pass.GoogleSaved, 4*time.Second), true}, // no pass of ours
			{cb("n5", "1.demo-gone2", pass.GoogleSaved, 5*time.Second), true},
			{cb("n6", "1.demo-gone2", pass.GoogleDeleted, 6*time.Second), true},
		} {
			fresh, err := db.RecordGoogleCallback(ctx, c.cb)
			if err != nil || fresh != c.fresh {
				t.Fatalf("callback %d: fresh %v, %v; want %v", i, fresh, err, c.fresh)
			}
		}
		tl, err := db.Timeline(ctx, "demo", "ORDER1", 0)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range tl {
			kinds = append(kinds, e.Kind)
			if e.FileID != 7 || e.Detail != "serial=s1 object=1.demo-s1" {
				t.Errorf("timeline entry %+v", e)
			}
		}
		if !cmp.Equal(kinds, []string{"google-saved", "google-deleted", "google-saved"}) {
			t.Errorf("timeline kinds %v", kinds)
		}
		// Each fresh callback about our pass is announced, with it.
		tasks, err := db.ListTasks(ctx, pass.TaskPending, 100)
		if err != nil {
			t.Fatal(err)
		}
		var announced []string
		for _, tk := range tasks {
			var ev pass.EventArgs
			if tk.Kind == pass.TaskEventFanout && json.Unmarshal(tk.Payload, &ev) == nil && ev.Stream == "s1" {
				announced = append(announced, ev.Type)
			}
		}
		slices.Sort(announced)
		if want := []string{pass.EventPassInstalled, pass.EventPassInstalled, pass.EventPassUninstalled}; !cmp.Equal(announced, want) {
			t.Errorf("announced %v, want %v", announced, want)
		}
		got, err := db.GoogleWalletCounts(ctx, "demo")
		want := pass.GoogleWalletCounts{Saves: 4, Deletes: 2, InWallets: 2}
		if err != nil || got != want {
			t.Errorf("counts = %+v, %v; want %+v", got, err, want)
		}
		if got, err := db.GoogleWalletCounts(ctx, "other"); err != nil || got != (pass.GoogleWalletCounts{}) {
			t.Errorf("another tenant's counts = %+v, %v", got, err)
		}
		// The same nonce from another tenant is that tenant's own.
		if fresh, err := db.RecordGoogleCallback(ctx, pass.GoogleCallback{Tenant: "other", Nonce: "n1", ObjectID: "2.other-x",
			ClassID: "2.other-p", EventType: pass.GoogleSaved, ReceivedAt: at}); err != nil || !fresh {
			t.Errorf("other tenant: fresh %v, %v", fresh, err)
		}
	})
}
