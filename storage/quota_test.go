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

const quotaKey = "MOSA/externalOrderService"

// quotaBundle is three handles on one PostgreSQL schema, like three
// instances, each with its SecuTixQuota.
type quotaBundle struct {
	dbs    []*storage.DB
	quotas []*storage.SecuTixQuota
}

func setupQuota(t *testing.T, limit int, window time.Duration) quotaBundle {
	t.Helper()
	d := postgresDB(t)
	var b quotaBundle
	for range 3 {
		db := d.handle(t)
		q, err := db.SecuTixQuota(limit, window, nil)
		if err != nil {
			t.Fatal(err)
		}
		// The tests change the tables under the waiters: let them see it
		// soon.
		storage.QuotaPolls(q, 50*time.Millisecond)
		b.dbs = append(b.dbs, db)
		b.quotas = append(b.quotas, q)
	}
	return b
}

// waiters returns the rows of key in secutix_waiters.
func (b quotaBundle) waiters(t *testing.T, key string) int {
	t.Helper()
	n, err := storage.QuotaWaiters(context.Background(), b.dbs[0], key)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitUntil polls cond until it holds (the test's own timeout is the
// limit).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if t.Context().Err() != nil {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSecuTixQuotaSlidingWindow: 21 callers on three instances, taking
// at once at mixed priorities, are never granted more than the limit in
// any interval of the window's length (by the database's clock), and all
// are granted.
func TestSecuTixQuotaSlidingWindow(t *testing.T) {
	t.Parallel()
	const limit, window, perInstance, each = 5, 300 * time.Millisecond, 7, 2
	b := setupQuota(t, limit, window)
	var mu sync.Mutex
	var grants []time.Time
	var wg sync.WaitGroup
	for i, q := range b.quotas {
		for g := range perInstance {
			wg.Go(func() {
				for range each {
					prio := pass.Priority((i+g)%3 - 1)
					at, err := storage.QuotaTakeAt(t.Context(), q, quotaKey, prio)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					grants = append(grants, at)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if want := len(b.quotas) * perInstance * each; len(grants) != want {
		t.Fatalf("got %d grants, want %d", len(grants), want)
	}
	slices.SortFunc(grants, func(a, b time.Time) int { return a.Compare(b) })
	for i := 0; i+limit < len(grants); i++ {
		if d := grants[i+limit].Sub(grants[i]); d < window {
			t.Errorf("grants %d to %d span %s: %d calls within %s, want at most %d", i, i+limit, d, limit+1, window, limit)
		}
	}
	if n := b.waiters(t, quotaKey); n != 0 {
		t.Errorf("got %d waiter rows at the end, want 0", n)
	}
}

// TestSecuTixQuotaStrictPriority: with the window full, a buyer's call on
// one instance that comes after 10 background calls on the two others
// goes first; the background calls then go in the order they came.
func TestSecuTixQuotaStrictPriority(t *testing.T) {
	t.Parallel()
	b := setupQuota(t, 1, time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := b.quotas[0].Take(ctx, quotaKey, pass.PriorityWebhook); err != nil {
		t.Fatal(err)
	}
	granted := make(chan string, 11)
	var wg sync.WaitGroup
	defer wg.Wait()
	take := func(q *storage.SecuTixQuota, name string, prio pass.Priority) {
		n := b.waiters(t, quotaKey)
		wg.Go(func() {
			if err := q.Take(ctx, quotaKey, prio); err != nil {
				if ctx.Err() == nil || !errors.Is(err, context.Canceled) {
					t.Errorf("%s: %v", name, err)
				}
				return
			}
			granted <- name
		})
		waitUntil(t, name+" to wait", func() bool { return b.waiters(t, quotaKey) == n+1 })
	}
	var want []string
	for i := range 10 {
		name := fmt.Sprintf("background %d", i)
		take(b.quotas[i%2], name, pass.PriorityBackground)
		want = append(want, name)
	}
	take(b.quotas[2], "buyer", pass.PriorityBuyer)
	want = append([]string{"buyer"}, want...)
	// Three rounds show the order; the other waiters are cancelled.
	for i, w := range want[:3] {
		// One call's room at a time: exactly one waiter goes.
		if err := storage.QuotaForget(ctx, b.dbs[0], quotaKey); err != nil {
			t.Fatal(err)
		}
		if got := <-granted; got != w {
			t.Fatalf("grant %d went to %s, want %s", i, got, w)
		}
	}
	cancel()
	wg.Wait()
	if n := b.waiters(t, quotaKey); n != 0 {
		t.Errorf("got %d waiter rows after the cancellations, want 0", n)
	}
}

// TestSecuTixQuotaPause: a pause set by one instance holds the calls of
// another until it ends, and a shorter pause does not end a longer one.
func TestSecuTixQuotaPause(t *testing.T) {
	t.Parallel()
	b := setupQuota(t, 100, time.Minute)
	ctx := t.Context()
	if err := b.quotas[0].Pause(ctx, quotaKey, time.Now().Add(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	until, err := storage.QuotaPausedUntil(ctx, b.dbs[0], quotaKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.quotas[2].Pause(ctx, quotaKey, time.Now().Add(time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if got, err := storage.QuotaPausedUntil(ctx, b.dbs[0], quotaKey); err != nil || !got.Equal(until) {
		t.Errorf("after a shorter pause: paused until %s (%v), want %s", got, err, until)
	}
	at, err := storage.QuotaTakeAt(ctx, b.quotas[1], quotaKey, pass.PriorityBuyer)
	if err != nil {
		t.Fatal(err)
	}
	if at.Before(until) {
		t.Errorf("granted at %s, before the pause ended at %s", at.Format(time.StampMilli), until.Format(time.StampMilli))
	}
	// Another key is not paused.
	if err := b.quotas[0].Pause(ctx, quotaKey, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := b.quotas[1].Take(dctx, "MOSA/auth", pass.PriorityWebhook); err != nil {
		t.Errorf("another key: %v", err)
	}
}

// TestSecuTixQuotaCancel: a waiting call whose context ends returns an
// error wrapping the context's and deletes its waiter row; one whose
// deadline comes before the window has room fails at once.
func TestSecuTixQuotaCancel(t *testing.T) {
	t.Parallel()
	b := setupQuota(t, 1, time.Hour)
	if err := b.quotas[0].Take(t.Context(), quotaKey, pass.PriorityWebhook); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- b.quotas[1].Take(ctx, quotaKey, pass.PriorityBuyer) }()
	waitUntil(t, "the call to wait", func() bool { return b.waiters(t, quotaKey) == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want an error wrapping context.Canceled", err)
	}
	if n := b.waiters(t, quotaKey); n != 0 {
		t.Errorf("got %d waiter rows after the cancel, want 0", n)
	}

	dctx, dcancel := context.WithTimeout(t.Context(), time.Minute)
	defer dcancel()
	err := b.quotas[2].Take(dctx, quotaKey, pass.PriorityBuyer)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want an error wrapping context.DeadlineExceeded", err)
	}
	if dctx.Err() != nil {
		t.Error("the call waited for its deadline; want it to fail at once")
	}
	if n := b.waiters(t, quotaKey); n != 0 {
		t.Errorf("got %d waiter rows after the deadline failure, want 0", n)
	}
}

// TestSecuTixQuotaAbandonedWaiter: the row of a buyer's call whose
// instance died holds lower priorities back only until it expires; then
// it is deleted.
func TestSecuTixQuotaAbandonedWaiter(t *testing.T) {
	t.Parallel()
	b := setupQuota(t, 10, time.Minute)
	ctx := t.Context()
	expires, err := storage.QuotaAbandonedWaiter(ctx, b.dbs[0], quotaKey, pass.PriorityBuyer, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	at, err := storage.QuotaTakeAt(ctx, b.quotas[1], quotaKey, pass.PriorityBackground)
	if err != nil {
		t.Fatal(err)
	}
	if at.Before(expires) {
		t.Errorf("granted at %s, before the abandoned buyer's row expired at %s", at.Format(time.StampMilli), expires.Format(time.StampMilli))
	}
	if n := b.waiters(t, quotaKey); n != 0 {
		t.Errorf("got %d waiter rows, want the expired one deleted", n)
	}
}

// TestSecuTixQuotaNeedsPostgres: on SQLite, where one process keeps the
// quota, the store offers none.
func TestSecuTixQuotaNeedsPostgres(t *testing.T) {
	t.Parallel()
	db := sqliteDB(t).handle(t)
	if _, err := db.SecuTixQuota(60, time.Minute, nil); pass.KindOf(err) != pass.KindInvalid {
		t.Errorf("got %v, want an error of kind invalid", err)
	}
}
