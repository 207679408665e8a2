package secutix_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"walletpass/pass"
	"walletpass/secutix"
)

const quotaKey = "MOSA/externalOrderService"

// waitUntil polls cond until it holds (the test's own timeout is the
// limit).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if t.Context().Err() != nil {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// checkWindow fails if more than limit of the grant times fall in any
// interval of length window.
func checkWindow(t *testing.T, grants []time.Time, limit int, window time.Duration) {
	t.Helper()
	slices.SortFunc(grants, func(a, b time.Time) int { return a.Compare(b) })
	for i := 0; i+limit < len(grants); i++ {
		if d := grants[i+limit].Sub(grants[i]); d < window {
			t.Errorf("grants %d to %d span %s: %d calls within %s, want at most %d", i, i+limit, d, limit+1, window, limit)
		}
	}
	// Once a twelfth of the limit is used, grants are spaced by window/limit.
	spacing := window / time.Duration(limit)
	for i := 1; i < len(grants); i++ {
		before := 0
		for j := i - 1; j >= 0 && grants[i].Sub(grants[j]) < window; j-- {
			before++
		}
		if before >= max(1, limit/12) && grants[i].Sub(grants[i-1]) < spacing {
			t.Errorf("grant %d came %s after the previous one with %d in the window, want at least %s", i,
				grants[i].Sub(grants[i-1]), before, spacing)
		}
	}
}

// TestLocalQuotaSlidingWindow: 20 goroutines taking at once, at mixed
// priorities, are never granted more than Limit calls in any interval of
// length Window, and all of them are granted.
func TestLocalQuotaSlidingWindow(t *testing.T) {
	t.Parallel()
	const limit, window, goroutines, each = 5, 200 * time.Millisecond, 20, 2
	q := secutix.NewLocalQuota(limit, window, nil)
	var mu sync.Mutex
	var grants []time.Time
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				prio := pass.Priority(rand.IntN(3) - 1)
				at, err := secutix.TakeAt(t.Context(), q, quotaKey, prio)
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
	wg.Wait()
	if len(grants) != goroutines*each {
		t.Fatalf("got %d grants, want %d", len(grants), goroutines*each)
	}
	checkWindow(t, grants, limit, window)
}

// TestLocalQuotaStrictPriority: with the window full, a buyer's call that
// comes after 10 background calls goes first; the background calls then
// go in the order they came.
func TestLocalQuotaStrictPriority(t *testing.T) {
	t.Parallel()
	q := secutix.NewLocalQuota(1, time.Hour, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := q.Take(ctx, quotaKey, pass.PriorityWebhook); err != nil {
		t.Fatal(err)
	}
	granted := make(chan string, 11)
	var wg sync.WaitGroup
	defer wg.Wait()
	take := func(name string, prio pass.Priority) {
		n := secutix.Waiting(q, quotaKey)
		wg.Go(func() {
			if err := q.Take(ctx, quotaKey, prio); err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			granted <- name
		})
		waitUntil(t, name+" to wait", func() bool { return secutix.Waiting(q, quotaKey) == n+1 })
	}
	var want []string
	for i := range 10 {
		name := "background " + string(rune('0'+i))
		take(name, pass.PriorityBackground)
		want = append(want, name)
	}
	take("buyer", pass.PriorityBuyer)
	want = append([]string{"buyer"}, want...)
	for i, w := range want {
		// One call's room at a time: exactly one waiter goes.
		secutix.ExpireGrants(q, quotaKey)
		if got := <-granted; got != w {
			t.Fatalf("grant %d went to %s, want %s", i, got, w)
		}
	}
	if n := secutix.Waiting(q, quotaKey); n != 0 {
		t.Errorf("got %d waiters at the end, want 0", n)
	}
}

// TestLocalQuotaPause: no call goes before a pause ends, and a shorter
// pause does not end a longer one.
func TestLocalQuotaPause(t *testing.T) {
	t.Parallel()
	q := secutix.NewLocalQuota(100, time.Minute, nil)
	until := time.Now().Add(300 * time.Millisecond)
	if err := q.Pause(t.Context(), quotaKey, until); err != nil {
		t.Fatal(err)
	}
	if err := q.Pause(t.Context(), quotaKey, time.Now().Add(time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	at, err := secutix.TakeAt(t.Context(), q, quotaKey, pass.PriorityBuyer)
	if err != nil {
		t.Fatal(err)
	}
	if at.Before(until) {
		t.Errorf("granted at %s, before the pause ended at %s", at.Format(time.StampMicro), until.Format(time.StampMicro))
	}
	// Another key is not paused.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := q.Pause(ctx, quotaKey, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := q.Take(ctx, "MOSA/auth", pass.PriorityWebhook); err != nil {
		t.Errorf("another key: %v", err)
	}
}

// TestLocalQuotaCancel: a waiting call whose context ends returns an
// error wrapping the context's, and stops waiting; one whose deadline
// comes before the window frees fails at once.
func TestLocalQuotaCancel(t *testing.T) {
	t.Parallel()
	q := secutix.NewLocalQuota(1, time.Hour, nil)
	if err := q.Take(t.Context(), quotaKey, pass.PriorityWebhook); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- q.Take(ctx, quotaKey, pass.PriorityBuyer) }()
	waitUntil(t, "the call to wait", func() bool { return secutix.Waiting(q, quotaKey) == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want an error wrapping context.Canceled", err)
	}
	if n := secutix.Waiting(q, quotaKey); n != 0 {
		t.Errorf("got %d waiters after the cancel, want 0", n)
	}

	dctx, dcancel := context.WithTimeout(t.Context(), time.Minute)
	defer dcancel()
	err := q.Take(dctx, quotaKey, pass.PriorityBuyer)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want an error wrapping context.DeadlineExceeded", err)
	}
	if dctx.Err() != nil {
		t.Error("the call waited for its deadline; want it to fail at once")
	}
	if n := secutix.Waiting(q, quotaKey); n != 0 {
		t.Errorf("got %d waiters after the deadline failure, want 0", n)
	}
}

func TestDrainTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		calls, limit int
		window       time.Duration
		want         time.Duration
	}{
		{0, 60, 61 * time.Second, 0},
		{5, 60, 61 * time.Second, 0},                 // the first five go at once
		{65, 60, 61 * time.Second, 61 * time.Second}, // then one per 61/60 s
		{10005, 0, 0, 10000 * 61 * time.Second / 60}, // defaults
		{3, 1, time.Minute, 2 * time.Minute},         // one at once, then one a minute
	} {
		if got := secutix.DrainTime(tc.calls, tc.limit, tc.window); got != tc.want {
			t.Errorf("DrainTime(%d, %d, %s) = %s, want %s", tc.calls, tc.limit, tc.window, got, tc.want)
		}
	}
}
