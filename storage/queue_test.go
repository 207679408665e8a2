package storage_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"walletpass/pass"
	"walletpass/storage"
)

var t0 = time.UnixMilli(1_800_000_000_000).UTC()

// claim is db.Claim; a claim that fails fails the test, rather than read
// as nothing due.
func claim(t *testing.T, db *storage.DB, now time.Time, lease time.Duration, limit int) []pass.Task {
	t.Helper()
	c, err := db.Claim(t.Context(), now, lease, limit)
	if err != nil {
		t.Fatalf("claim at %v: %v", now, err)
	}
	return c
}

func syncTask(secret string) pass.NewTask {
	return pass.TaskOf(pass.OrderRef{Tenant: "demo", SecretToken: secret}, "corr-"+secret)
}

func event(secret string, ticket int64, state string, lastUpdate time.Time) pass.WebhookEvent {
	return pass.WebhookEvent{Tenant: "demo", Source: "secutix-order", SecretToken: secret, TicketID: ticket, State: state,
		LastUpdate: lastUpdate, CorrelationID: "c", ReceivedAt: t0}
}

func TestCoalescing(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		first, err := db.RecordWebhook(ctx, event("s1", 1, "PAID", t0), syncTask("s1"), t0)
		if err != nil || first.How != "created" {
			t.Fatalf("first: %+v %v", first, err)
		}
		for i := range 49 {
			r, err := db.RecordWebhook(ctx, event("s1", 1, "MODIFIED", t0.Add(time.Duration(i)*time.Second)), syncTask("s1"), t0)
			if err != nil || r.How != "merged" || r.TaskID != first.TaskID {
				t.Fatalf("webhook %d: %+v %v", i, r, err)
			}
		}
		// Every webhook is kept (the order's timeline reads them).
		tl, err := db.Timeline(ctx, "demo", "s1", 0)
		if err != nil || len(tl) != 50 || tl[0].Kind != "webhook" || !strings.Contains(tl[0].Detail, "state=PAID") {
			t.Fatalf("timeline: %d entries (%v), want the 50 webhooks, the first PAID: %+v", len(tl), err, tl[:min(len(tl), 1)])
		}
		claimed, err := db.Claim(ctx, t0, time.Minute, 10)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claimed %d tasks (%v), want the one coalesced task", len(claimed), err)
		}
		if claimed[0].Merged != 49 || claimed[0].Attempts != 1 {
			t.Errorf("task = merged %d attempts %d", claimed[0].Merged, claimed[0].Attempts)
		}
		// Arriving while it runs: exactly one follow-up run.
		for range 3 {
			if r, err := db.Enqueue(ctx, syncTask("s1"), t0); err != nil || r.How != "rerun" {
				t.Fatalf("while running: %+v %v", r, err)
			}
		}
		if err := db.Complete(ctx, claimed[0], t0.Add(time.Second), t0.Add(1500*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if early := claim(t, db, t0.Add(time.Second), time.Minute, 10); len(early) != 0 {
			t.Fatalf("the follow-up ran before its delay")
		}
		again, err := db.Claim(ctx, t0.Add(1500*time.Millisecond), time.Minute, 10)
		if err != nil || len(again) != 1 || again[0].ID != first.TaskID {
			t.Fatalf("follow-up: %+v %v", again, err)
		}
		if err := db.Complete(ctx, again[0], t0.Add(2*time.Second), t0.Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		if more := claim(t, db, t0.Add(time.Hour), time.Minute, 10); len(more) != 0 {
			t.Errorf("a third run: %+v", more)
		}
		done, _ := db.ListTasks(ctx, pass.TaskDone, 10)
		if len(done) != 1 {
			t.Errorf("done tasks = %d", len(done))
		}
		// Once done, a new webhook makes a new task.
		if r, err := db.Enqueue(ctx, syncTask("s1"), t0.Add(time.Hour)); err != nil || r.How != "created" || r.TaskID == first.TaskID {
			t.Errorf("after done: %+v %v", r, err)
		}
	})
}

func TestLeaseExpiryAndLostLease(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if _, err := db.Enqueue(ctx, syncTask("s1"), t0); err != nil {
			t.Fatal(err)
		}
		a, _ := db.Claim(ctx, t0, time.Minute, 1)
		if len(a) != 1 {
			t.Fatal("no claim")
		}
		if b := claim(t, db, t0.Add(30*time.Second), time.Minute, 1); len(b) != 0 {
			t.Fatalf("claimed a task under a live lease")
		}
		// The worker died: after the lease another worker takes it.
		b, _ := db.Claim(ctx, t0.Add(61*time.Second), time.Minute, 1)
		if len(b) != 1 || b[0].Attempts != 2 || b[0].LeaseToken == a[0].LeaseToken {
			t.Fatalf("reclaim: %+v", b)
		}
		if err := db.Complete(ctx, a[0], t0.Add(62*time.Second), t0.Add(62*time.Second)); pass.KindOf(err) != pass.KindConflict {
			t.Errorf("the first worker completed a task it lost: %v", err)
		}
		if err := db.Complete(ctx, b[0], t0.Add(62*time.Second), t0.Add(62*time.Second)); err != nil {
			t.Errorf("the second worker: %v", err)
		}
	})
}

func TestFailDeadRetry(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		r, _ := db.Enqueue(ctx, syncTask("s1"), t0)
		c, _ := db.Claim(ctx, t0, time.Minute, 1)
		if err := db.Fail(ctx, c[0], "secutix: 509", t0.Add(10*time.Second), false, t0); err != nil {
			t.Fatal(err)
		}
		if got := claim(t, db, t0.Add(5*time.Second), time.Minute, 1); len(got) != 0 {
			t.Fatalf("claimed before its retry time")
		}
		c, _ = db.Claim(ctx, t0.Add(10*time.Second), time.Minute, 1)
		if len(c) != 1 || c[0].LastError != "secutix: 509" || c[0].Attempts != 2 {
			t.Fatalf("retry: %+v", c)
		}
		if err := db.Fail(ctx, c[0], "still failing", t0, true, t0.Add(11*time.Second)); err != nil {
			t.Fatal(err)
		}
		dead, _ := db.ListTasks(ctx, pass.TaskDead, 10)
		if len(dead) != 1 || dead[0].ID != r.TaskID || dead[0].LastError != "still failing" {
			t.Fatalf("dead = %+v", dead)
		}
		if got := claim(t, db, t0.Add(time.Hour), time.Minute, 1); len(got) != 0 {
			t.Fatalf("a dead task was claimed")
		}
		if err := db.RetryTask(ctx, r.TaskID, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		c, _ = db.Claim(ctx, t0.Add(time.Hour), time.Minute, 1)
		if len(c) != 1 || c[0].Attempts != 1 {
			t.Fatalf("after retry: %+v", c)
		}
		if err := db.RetryTask(ctx, "nope", t0); pass.KindOf(err) != pass.KindNotFound {
			t.Errorf("unknown task: %v", err)
		}
		if err := db.RetryTask(ctx, r.TaskID, t0); pass.KindOf(err) != pass.KindConflict {
			t.Errorf("running task: %v", err)
		}
	})
}

// TestReleaseTakesTheAttemptBack: a task released by its worker (stopping)
// is due at once, with the attempt of the released run not counted and the
// error of the failed one before it kept; only the lease holder releases.
func TestReleaseTakesTheAttemptBack(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		r, err := db.Enqueue(ctx, syncTask("s1"), t0)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := db.Claim(ctx, t0, time.Minute, 1)
		if len(c) != 1 {
			t.Fatal("no claim")
		}
		if err := db.Fail(ctx, c[0], "secutix: 503", t0.Add(time.Second), false, t0); err != nil {
			t.Fatal(err)
		}
		c, _ = db.Claim(ctx, t0.Add(time.Second), time.Minute, 1)
		if len(c) != 1 || c[0].Attempts != 2 {
			t.Fatalf("second claim: %+v", c)
		}
		// A webhook while it runs flags it for a follow-up run, which the
		// released task, pending again, no longer needs.
		if m, err := db.Enqueue(ctx, syncTask("s1"), t0.Add(time.Second)); err != nil || m.How != "rerun" {
			t.Fatalf("merge while running: %+v %v", m, err)
		}
		lost := c[0]
		lost.LeaseToken = "another"
		if err := db.Release(ctx, lost, t0.Add(2*time.Second)); pass.KindOf(err) != pass.KindConflict {
			t.Errorf("releasing with a lost lease: got %v, want a conflict", err)
		}
		if err := db.Release(ctx, c[0], t0.Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		pending, err := db.ListTasks(ctx, pass.TaskPending, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) != 1 {
			t.Fatalf("got %d pending tasks, want the released one", len(pending))
		}
		got := pending[0]
		if got.ID != r.TaskID || got.Attempts != 1 || !got.NextAttemptAt.Equal(t0.Add(2*time.Second)) ||
			got.LastError != "secutix: 503" || got.Rerun || got.LeaseToken != "" {
			t.Errorf("released task: got attempts %d, due %v, last error %q, rerun %v, lease token %q; "+
				"want attempts 1, due %v, last error %q, no rerun, no lease token",
				got.Attempts, got.NextAttemptAt, got.LastError, got.Rerun, got.LeaseToken, t0.Add(2*time.Second), "secutix: 503")
		}
		c, _ = db.Claim(ctx, t0.Add(2*time.Second), time.Minute, 1)
		if len(c) != 1 || c[0].ID != r.TaskID || c[0].Attempts != 2 {
			t.Fatalf("claim after the release: got %+v, want the task at its second attempt", c)
		}
		if err := db.Release(ctx, c[0], t0.Add(3*time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := db.Release(ctx, c[0], t0.Add(3*time.Second)); pass.KindOf(err) != pass.KindConflict {
			t.Errorf("releasing a task twice: got %v, want a conflict", err)
		}
	})
}

// TestDeferredDelivery: a delivery that has more to do later (its failing
// streams wait) is pending again, due then, its attempts back to none;
// one flagged meanwhile is due at once; a merge brings a waiting delivery
// forward (new messages of other streams go out).
func TestDeferredDelivery(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		delivery := pass.TaskOf(pass.DeliveryArgs{Tenant: "demo", Subscription: "wh_1"}, "")
		if _, err := db.Enqueue(ctx, delivery, t0); err != nil {
			t.Fatal(err)
		}
		claim := func(at time.Time) pass.Task {
			t.Helper()
			c, err := db.Claim(ctx, at, time.Minute, 1)
			if err != nil || len(c) != 1 {
				t.Fatalf("claim at %v: %+v %v", at, c, err)
			}
			return c[0]
		}
		pendingOne := func() pass.Task {
			t.Helper()
			p, err := db.ListTasks(ctx, pass.TaskPending, 10)
			if err != nil || len(p) != 1 {
				t.Fatalf("pending: %+v %v", p, err)
			}
			return p[0]
		}
		c := claim(t0)
		later := t0.Add(time.Hour)
		if err := db.Defer(ctx, c, later, t0.Add(time.Second), t0); err != nil {
			t.Fatal(err)
		}
		if got := pendingOne(); got.Attempts != 0 || !got.NextAttemptAt.Equal(later) || got.LeaseToken != "" {
			t.Errorf("deferred: attempts %d, due %v; want 0, %v", got.Attempts, got.NextAttemptAt, later)
		}
		// A new message for another stream merges into it: due at once.
		if _, err := db.Enqueue(ctx, delivery, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got := pendingOne(); !got.NextAttemptAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("after a merge: due %v, want %v", got.NextAttemptAt, t0.Add(time.Minute))
		}
		// Flagged while running: due soon, not at the wait's end.
		c = claim(t0.Add(time.Minute))
		if _, err := db.Enqueue(ctx, delivery, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := db.Defer(ctx, c, later, t0.Add(2*time.Minute), t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got := pendingOne(); !got.NextAttemptAt.Equal(t0.Add(2 * time.Minute)) {
			t.Errorf("deferred with a rerun: due %v, want %v", got.NextAttemptAt, t0.Add(2*time.Minute))
		}
		lost := claim(t0.Add(2 * time.Minute))
		lost.LeaseToken = "another"
		if err := db.Defer(ctx, lost, later, later, t0); pass.KindOf(err) != pass.KindConflict {
			t.Errorf("deferring with a lost lease: %v, want a conflict", err)
		}
	})
}

// TestFailingSyncKeepsItsBackoff: a merge into a failing sync does not
// bring it forward (only waiting deliveries are).
func TestFailingSyncKeepsItsBackoff(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if _, err := db.Enqueue(ctx, syncTask("s1"), t0); err != nil {
			t.Fatal(err)
		}
		c, _ := db.Claim(ctx, t0, time.Minute, 1)
		if err := db.Fail(ctx, c[0], "secutix: 503", t0.Add(time.Hour), false, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Enqueue(ctx, syncTask("s1"), t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		p, _ := db.ListTasks(ctx, pass.TaskPending, 10)
		if len(p) != 1 || !p[0].NextAttemptAt.Equal(t0.Add(time.Hour)) {
			t.Errorf("a failing sync merged into: %+v, want due %v", p, t0.Add(time.Hour))
		}
	})
}

func TestHintsNeverGoBack(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		steps := []struct {
			state string
			at    time.Time
		}{{"PAID", t0}, {"VALIDATED", t0.Add(time.Minute)}, {"MODIFIED", t0.Add(30 * time.Second)}, {"PAID", t0}}
		for _, s := range steps {
			if _, err := db.RecordWebhook(ctx, event("s1", 7, s.state, s.at), syncTask("s1"), t0); err != nil {
				t.Fatal(err)
			}
		}
		hints, err := db.Hints(ctx, "demo", "s1")
		if err != nil || len(hints) != 1 || hints[0].State != "VALIDATED" || hints[0].Ref != "t:7" {
			t.Fatalf("hints = %+v %v, want the newest: VALIDATED", hints, err)
		}
		tl, _ := db.Timeline(ctx, "demo", "s1", 0)
		if len(tl) != 4 || tl[0].Kind != "webhook" {
			t.Errorf("timeline = %+v", tl)
		}
		if other, err := db.Hints(ctx, "other", "s1"); err != nil || len(other) != 0 {
			t.Errorf("another tenant's hints: %+v, %v; want none", other, err)
		}
	})
}

// TestOnlyTheConsoleVoids: the hint that voids a ticket whatever SecuTix
// says is the console's; a SecuTix webhook saying VOIDED (its credential
// only asks for a sync) leaves none.
func TestOnlyTheConsoleVoids(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if _, err := db.RecordWebhook(ctx, event("s1", 7, pass.StateVoidedByOperator, t0), syncTask("s1"), t0); err != nil {
			t.Fatal(err)
		}
		if hints, err := db.Hints(ctx, "demo", "s1"); err != nil || len(hints) != 0 {
			t.Fatalf("a webhook's VOIDED left hints %+v %v", hints, err)
		}
		ev := event("s1", 7, pass.StateVoidedByOperator, t0)
		ev.Source = pass.SourceConsole
		if _, err := db.RecordWebhook(ctx, ev, syncTask("s1"), t0); err != nil {
			t.Fatal(err)
		}
		if hints, err := db.Hints(ctx, "demo", "s1"); err != nil || len(hints) != 1 || hints[0].Ref != "v:7" {
			t.Errorf("the console's void: hints %+v %v, want v:7", hints, err)
		}
	})
}

func TestConcurrentEnqueueOneActiveTask(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		var wg sync.WaitGroup
		ids := make(chan string, 40)
		for range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := db.RecordWebhook(ctx, event("s1", 1, "PAID", t0), syncTask("s1"), t0)
				if err != nil {
					t.Error(err)
					return
				}
				ids <- r.TaskID
			}()
		}
		wg.Wait()
		close(ids)
		seen := map[string]bool{}
		for id := range ids {
			seen[id] = true
		}
		if len(seen) != 1 {
			t.Errorf("40 concurrent webhooks made %d tasks, want 1", len(seen))
		}
	})
}

func TestPurge(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		db.RecordWebhook(ctx, event("s1", 1, "PAID", t0), syncTask("s1"), t0)
		c, _ := db.Claim(ctx, t0, time.Minute, 1)
		db.Complete(ctx, c[0], t0, t0)
		db.Enqueue(ctx, syncTask("s3"), t0)
		c, _ = db.Claim(ctx, t0, time.Minute, 1)
		db.Fail(ctx, c[0], "secutix: the order is malformed", t0, true, t0) // dead
		db.Enqueue(ctx, syncTask("s2"), t0)
		n, err := db.PurgeBefore(ctx, t0.Add(time.Hour))
		if err != nil || n != 3 { // the done task, the dead one and the event
			t.Errorf("purged %d rows (%v), want 3", n, err)
		}
		if pending, _ := db.ListTasks(ctx, pass.TaskPending, 10); len(pending) != 1 {
			t.Errorf("a pending task was purged")
		}
	})
}

func TestMinGapAfterARun(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if _, err := db.Enqueue(ctx, syncTask("s1"), t0); err != nil {
			t.Fatal(err)
		}
		c, err := db.Claim(ctx, t0, time.Minute, 1)
		if err != nil || len(c) != 1 {
			t.Fatalf("claim: %v %v", c, err)
		}
		if err := db.Complete(ctx, c[0], t0.Add(time.Second), t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		// 100 ms after the run finished: due SyncCoalesceWindow after it.
		if r, err := db.Enqueue(ctx, syncTask("s1"), t0.Add(1100*time.Millisecond)); err != nil || r.How != "created" {
			t.Fatalf("enqueue: %+v %v", r, err)
		}
		want := t0.Add(time.Second + pass.SyncCoalesceWindow)
		if next, ok, err := db.NextDue(ctx); err != nil || !ok || !next.Equal(want) {
			t.Errorf("next due = %v %v (%v), want %v", next, ok, err, want)
		}
		if early := claim(t, db, want.Add(-time.Millisecond), time.Minute, 1); len(early) != 0 {
			t.Errorf("claimed before the gap")
		}
		if onTime, _ := db.Claim(ctx, want, time.Minute, 1); len(onTime) != 1 {
			t.Errorf("not claimed after the gap")
		}
	})
}

func TestExtendLease(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if _, ok, err := db.NextDue(ctx); ok || err != nil {
			t.Errorf("next due of an empty queue: %v %v", ok, err)
		}
		if _, err := db.Enqueue(ctx, syncTask("s1"), t0); err != nil {
			t.Fatal(err)
		}
		c, _ := db.Claim(ctx, t0, time.Minute, 1)
		if len(c) != 1 {
			t.Fatal("no claim")
		}
		if err := db.Extend(ctx, c[0], t0.Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if again := claim(t, db, t0.Add(2*time.Minute), time.Minute, 1); len(again) != 0 {
			t.Errorf("claimed under an extended lease")
		}
		lost := c[0]
		lost.LeaseToken = "another"
		if err := db.Extend(ctx, lost, t0.Add(time.Hour)); pass.KindOf(err) != pass.KindConflict {
			t.Errorf("extending a lost lease: %v", err)
		}
	})
}

func TestTimelineByFile(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if _, err := db.RecordWebhook(ctx, event("s1", 1, "PAID", t0), syncTask("s1"), t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		err := db.AddTimeline(ctx,
			pass.TimelineEntry{Tenant: "demo", SecretToken: "s1", FileID: 7, At: t0.Add(2 * time.Second), Kind: "sync-started"},
			pass.TimelineEntry{Tenant: "demo", SecretToken: "s1", FileID: 7, At: t0.Add(3 * time.Second), Kind: "sync-finished"},
			pass.TimelineEntry{Tenant: "demo", SecretToken: "s2", FileID: 8, At: t0.Add(3 * time.Second), Kind: "sync-started"})
		if err != nil {
			t.Fatal(err)
		}
		tl, err := db.Timeline(ctx, "demo", "", 7)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range tl {
			kinds = append(kinds, e.Kind)
		}
		if want := []string{"webhook", "sync-started", "sync-finished"}; !cmp.Equal(kinds, want) {
			t.Errorf("timeline of file 7 = %v, want %v", kinds, want)
		}
		if tl[0].Detail != "secutix-order state=PAID ticket=1 movement=0 order=0" {
			t.Errorf("webhook entry = %q", tl[0].Detail)
		}
	})
}

// TestMergedSyncTakesTheNewestDetails: a sync that carries the order
// itself (an order webhook V2) merges into the pending sync of the order
// with its payload: the newest details win, and a later webhook without
// details makes the sync fetch the order.
func TestMergedSyncTakesTheNewestDetails(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		task := func(details string) pass.NewTask {
			ref := pass.OrderRef{Tenant: "demo", SecretToken: "s1"}
			if details != "" {
				ref.Details = []byte(details)
			}
			return pass.TaskOf(ref, "c")
		}
		payload := func(at time.Time) pass.OrderRef {
			t.Helper()
			got, err := db.Claim(ctx, at, time.Minute, 10)
			if err != nil || len(got) != 1 {
				t.Fatalf("claimed %d (%v)", len(got), err)
			}
			var ref pass.OrderRef
			if err := json.Unmarshal(got[0].Payload, &ref); err != nil {
				t.Fatal(err)
			}
			if err := db.Complete(ctx, got[0], at, at); err != nil {
				t.Fatal(err)
			}
			return ref
		}
		for _, d := range []string{`{"orderDetailsData":{"orderId":1}}`, `{"orderDetailsData":{"orderId":2}}`} {
			if _, err := db.Enqueue(ctx, task(d), t0); err != nil {
				t.Fatal(err)
			}
		}
		if ref := payload(t0); string(ref.Details) != `{"orderDetailsData":{"orderId":2}}` {
			t.Errorf("details = %s, want the newest", ref.Details)
		}
		for _, d := range []string{`{"orderDetailsData":{"orderId":3}}`, ""} {
			if _, err := db.Enqueue(ctx, task(d), t0.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		if ref := payload(t0.Add(time.Hour)); ref.Details != nil {
			t.Errorf("details = %s, want none (the newest webhook had none)", ref.Details)
		}
	})
}

// TestMergedAppNoticeTakesTheNewest: a second cancellation of an order
// merged into its running "cancelled" notice is sent in the run that
// follows, with its own id, so that the installations the first reached
// hear of it too.
func TestMergedAppNoticeTakesTheNewest(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		notice := func(id string) pass.NewTask {
			return pass.TaskOf(pass.AppNoticeArgs{Tenant: "demo", SecretToken: "s1", Event: "cancelled", ID: id}, "c")
		}
		if _, err := db.Enqueue(ctx, notice("S1.3"), t0); err != nil {
			t.Fatal(err)
		}
		got := claim(t, db, t0, time.Minute, 10)
		if len(got) != 1 {
			t.Fatalf("claimed %d", len(got))
		}
		if r, err := db.Enqueue(ctx, notice("S2.2"), t0.Add(time.Second)); err != nil || r.How != "rerun" {
			t.Fatalf("merge: %+v %v", r, err)
		}
		if err := db.Complete(ctx, got[0], t0.Add(2*time.Second), t0.Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		again := claim(t, db, t0.Add(3*time.Second), time.Minute, 10)
		if len(again) != 1 {
			t.Fatalf("no run after the merge (%d)", len(again))
		}
		var a pass.AppNoticeArgs
		if err := json.Unmarshal(again[0].Payload, &a); err != nil || a.ID != "S2.2" {
			t.Errorf("the run after the merge sends %q (%v), want S2.2", a.ID, err)
		}
	})
}

// TestCompleteSkipsSeenMerges: an event merged into a running task before
// the run read its source (more than 200 ms before) needs no follow-up
// run; one merged after does; without a read moment every merge counts.
func TestCompleteSkipsSeenMerges(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		for _, tc := range []struct {
			name         string
			merge, read  time.Duration // after t0; read 0: unknown
			wantFollowUp bool
		}{
			{"merged while waiting to read", 1 * time.Second, 5 * time.Second, false},
			{"merged after the read", 10 * time.Second, 5 * time.Second, true},
			{"merged just before the read", 4900 * time.Millisecond, 5 * time.Second, true},
			{"read moment unknown", 1 * time.Second, 0, true},
		} {
			secret := "seen-" + strings.ReplaceAll(tc.name, " ", "-")
			if _, err := db.Enqueue(ctx, syncTask(secret), t0); err != nil {
				t.Fatal(err)
			}
			got, err := db.Claim(ctx, t0, time.Minute, 10)
			if err != nil || len(got) != 1 {
				t.Fatalf("%s: claimed %d (%v)", tc.name, len(got), err)
			}
			if r, err := db.Enqueue(ctx, syncTask(secret), t0.Add(tc.merge)); err != nil || r.How != "rerun" {
				t.Fatalf("%s: merge %+v %v", tc.name, r, err)
			}
			task := got[0]
			if tc.read > 0 {
				task.ReadAt = t0.Add(tc.read)
			}
			end := t0.Add(20 * time.Second)
			if err := db.Complete(ctx, task, end, end); err != nil {
				t.Fatal(err)
			}
			again := claim(t, db, end.Add(time.Second), time.Minute, 10)
			if (len(again) == 1) != tc.wantFollowUp {
				t.Errorf("%s: follow-up run %v, want %v", tc.name, len(again) == 1, tc.wantFollowUp)
			}
			for _, a := range again {
				if err := db.Complete(ctx, a, end.Add(time.Second), end.Add(time.Second)); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

// TestHintMergeAlwaysRerun: a gate's scan (a hint) merged into a running
// sync of its order makes it run once more, even when the merge is
// stamped before the run's SecuTix read: the run reads the hints later,
// from this database, and a write that waited for the writer commits
// after its stamp. A plain webhook stamped so early was seen.
func TestHintMergeAlwaysRerun(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		for _, tc := range []struct {
			state        string
			wantFollowUp bool
		}{{"VALIDATED", true}, {"MODIFIED", false}} {
			secret := "hint-" + tc.state
			if _, err := db.Enqueue(ctx, syncTask(secret), t0); err != nil {
				t.Fatal(err)
			}
			got := claim(t, db, t0, time.Minute, 10)
			if len(got) != 1 {
				t.Fatalf("%s: claimed %d", tc.state, len(got))
			}
			if r, err := db.RecordWebhook(ctx, event(secret, 7, tc.state, t0.Add(time.Second)), syncTask(secret), t0.Add(time.Second)); err != nil || r.How != "rerun" {
				t.Fatalf("%s: merge %+v %v", tc.state, r, err)
			}
			// A plain webhook stamped before the read, written after the
			// hint in the same busy moment, does not undo its stamp.
			if _, err := db.RecordWebhook(ctx, event(secret, 8, "MODIFIED", t0.Add(2*time.Second)), syncTask(secret), t0.Add(2*time.Second)); err != nil {
				t.Fatal(err)
			}
			task := got[0]
			task.ReadAt = t0.Add(5 * time.Second) // read after the merge's stamp
			end := t0.Add(20 * time.Second)
			if err := db.Complete(ctx, task, end, end); err != nil {
				t.Fatal(err)
			}
			again := claim(t, db, end.Add(time.Second), time.Minute, 10)
			if (len(again) == 1) != tc.wantFollowUp {
				t.Errorf("%s merged: follow-up run %v, want %v", tc.state, len(again) == 1, tc.wantFollowUp)
			}
			for _, a := range again {
				if err := db.Complete(ctx, a, end.Add(time.Second), end.Add(time.Second)); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

func TestCountTasks(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		for _, s := range []string{"c1", "c2", "c3"} {
			if _, err := db.Enqueue(ctx, syncTask(s), t0); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.Claim(ctx, t0, time.Minute, 1); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			tenant string
			state  pass.TaskState
			want   int
		}{{"demo", "", 3}, {"demo", pass.TaskPending, 2}, {"demo", pass.TaskRunning, 1}, {"other", "", 0}} {
			if n, err := db.CountTasks(ctx, tc.tenant, pass.TaskSyncOrder, tc.state); err != nil || n != tc.want {
				t.Errorf("CountTasks(%s, %q) = %d %v, want %d", tc.tenant, tc.state, n, err, tc.want)
			}
		}
		if n, err := db.CountTasks(ctx, "demo", pass.TaskPushPass, ""); err != nil || n != 0 {
			t.Errorf("another kind: %d %v", n, err)
		}
		// The metrics' view: by kind and state, with the oldest due task.
		stats, err := db.TaskStats(ctx, t0.Add(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		want := []storage.TaskStat{{Kind: pass.TaskSyncOrder, State: "pending", Count: 2, OldestDue: t0.UTC()},
			{Kind: pass.TaskSyncOrder, State: "running", Count: 1}}
		if len(stats) != len(want) {
			t.Fatalf("TaskStats = %+v, want %+v", stats, want)
		}
		for i := range want {
			if stats[i].Kind != want[i].Kind || stats[i].State != want[i].State || stats[i].Count != want[i].Count || !stats[i].OldestDue.Equal(want[i].OldestDue) {
				t.Errorf("TaskStats[%d] = %+v, want %+v", i, stats[i], want[i])
			}
		}
		if stats, _ := db.TaskStats(ctx, t0.Add(-time.Second)); len(stats) == 0 || !stats[0].OldestDue.IsZero() {
			t.Errorf("before they are due: %+v, want no oldest due", stats)
		}
	})
}

// TestLongTextsCutBetweenCharacters: a timeline entry and a task's error
// longer than their columns are cut between two characters, and lose a
// NUL: PostgreSQL refuses invalid UTF-8 and NUL in text, and refusing the
// write would lose the whole timeline batch, or leave a failed task
// running until its lease ends, again and again.
func TestLongTextsCutBetweenCharacters(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		detail := strings.Repeat("a", 3999) + "é and more"
		if err := db.AddTimeline(ctx, pass.TimelineEntry{Tenant: "demo", SecretToken: "s1", FileID: 7, At: t0, Kind: "sync-answer",
			Detail: detail}, pass.TimelineEntry{Tenant: "demo", SecretToken: "s1", FileID: 7, At: t0, Kind: "note", Detail: "a\x00b"}); err != nil {
			t.Fatal(err)
		}
		tl, err := db.Timeline(ctx, "demo", "", 7)
		if err != nil || len(tl) != 2 || tl[0].Detail != strings.Repeat("a", 3999) || tl[1].Detail != "ab" {
			t.Fatalf("timeline: %d entries, %v", len(tl), err)
		}
		if _, err := db.Enqueue(ctx, syncTask("s1"), t0); err != nil {
			t.Fatal(err)
		}
		c, _ := db.Claim(ctx, t0, time.Minute, 1)
		if err := db.Fail(ctx, c[0], strings.Repeat("x", 1999)+"ü: "+"\x00\xff", t0, true, t0); err != nil {
			t.Fatal(err)
		}
		dead, _ := db.ListTasks(ctx, pass.TaskDead, 10)
		if len(dead) != 1 || dead[0].LastError != strings.Repeat("x", 1999) {
			t.Errorf("dead: %+v", dead)
		}
	})
}
