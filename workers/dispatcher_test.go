package workers_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"walletpass/pass"
	"walletpass/storage"
	"walletpass/workers"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openDB(t *testing.T) *storage.DB {
	t.Helper()
	db, err := storage.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func task(secret string) pass.NewTask {
	return pass.TaskOf(pass.OrderRef{Tenant: "demo", SecretToken: secret}, "c")
}

func start(t *testing.T, db *storage.DB, cfg workers.Config, h workers.Handler) *workers.Dispatcher {
	t.Helper()
	d := workers.New(cfg, db, db, map[string]workers.Handler{pass.TaskSyncOrder: h}, nil)
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Stop(context.Background()) })
	return d
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func state(t *testing.T, db *storage.DB, s pass.TaskState) []pass.Task {
	t.Helper()
	ts, err := db.ListTasks(context.Background(), s, 100)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestWakeRunsWithoutTick(t *testing.T) {
	db := openDB(t)
	var ran atomic.Int32
	d := start(t, db, workers.Config{Tick: time.Hour, Reconcile: -1, RetentionEvery: -1}, func(ctx context.Context, _ pass.Task) error {
		ran.Add(1)
		return nil
	})
	if _, err := db.Enqueue(context.Background(), task("a"), time.Now()); err != nil {
		t.Fatal(err)
	}
	d.Wake()
	waitFor(t, "the woken dispatcher to run the task", func() bool { return ran.Load() == 1 })
	waitFor(t, "the task to be done", func() bool { return len(state(t, db, pass.TaskDone)) == 1 })
}

func TestRetriesThenSucceeds(t *testing.T) {
	db := openDB(t)
	var calls atomic.Int32
	start(t, db, workers.Config{Tick: 10 * time.Millisecond, BaseBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Reconcile: -1, RetentionEvery: -1}, func(ctx context.Context, tk pass.Task) error {
		if calls.Add(1) < 3 {
			return pass.Errorf(pass.KindUnavailable, "secutix: 503")
		}
		return nil
	})
	db.Enqueue(context.Background(), task("a"), time.Now())
	waitFor(t, "the task to be done", func() bool { return len(state(t, db, pass.TaskDone)) == 1 })
	if got := state(t, db, pass.TaskDone)[0]; got.Attempts != 3 || calls.Load() != 3 {
		t.Errorf("attempts %d, calls %d; want 3 and 3", got.Attempts, calls.Load())
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	db := openDB(t)
	var mu sync.Mutex
	var times []time.Time
	start(t, db, workers.Config{Tick: 5 * time.Millisecond, BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
		Reconcile: -1, RetentionEvery: -1}, func(ctx context.Context, tk pass.Task) error {
		mu.Lock()
		defer mu.Unlock()
		times = append(times, time.Now())
		if len(times) == 1 {
			return &pass.RetryAfterError{After: 300 * time.Millisecond, Err: pass.Errorf(pass.KindUnavailable, "secutix: 509")}
		}
		return nil
	})
	db.Enqueue(context.Background(), task("a"), time.Now())
	waitFor(t, "the task to be done", func() bool { return len(state(t, db, pass.TaskDone)) == 1 })
	mu.Lock()
	defer mu.Unlock()
	if gap := times[1].Sub(times[0]); gap < 300*time.Millisecond {
		t.Errorf("retried after %v, before the 300ms the server asked for", gap)
	}
}

func TestDeadAfterMaxAttemptsAndInvalidAtOnce(t *testing.T) {
	db := openDB(t)
	start(t, db, workers.Config{Tick: 5 * time.Millisecond, BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		MaxAttempts: 3, Reconcile: -1, RetentionEvery: -1}, func(ctx context.Context, tk pass.Task) error {
		if tk.DedupKey == "secret:bad" {
			return pass.Errorf(pass.KindInvalid, "malformed")
		}
		return errors.New("boom")
	})
	db.Enqueue(context.Background(), task("a"), time.Now())
	db.Enqueue(context.Background(), task("bad"), time.Now())
	waitFor(t, "both tasks dead", func() bool { return len(state(t, db, pass.TaskDead)) == 2 })
	for _, tk := range state(t, db, pass.TaskDead) {
		want := 3
		if tk.DedupKey == "secret:bad" {
			want = 1
		}
		if tk.Attempts != want || tk.LastError == "" {
			t.Errorf("%s: attempts %d (want %d), last error %q", tk.DedupKey, tk.Attempts, want, tk.LastError)
		}
	}
}

// TestKindPolicy: a kind may be retried longer than the others.
func TestKindPolicy(t *testing.T) {
	db := openDB(t)
	start(t, db, workers.Config{Tick: 5 * time.Millisecond, BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		MaxAttempts: 2, Kinds: map[string]workers.KindPolicy{pass.TaskSyncOrder: {MaxAttempts: 5}},
		Reconcile: -1, RetentionEvery: -1}, func(ctx context.Context, tk pass.Task) error {
		return errors.New("boom")
	})
	db.Enqueue(context.Background(), task("a"), time.Now())
	waitFor(t, "the task dead", func() bool { return len(state(t, db, pass.TaskDead)) == 1 })
	if tk := state(t, db, pass.TaskDead)[0]; tk.Attempts != 5 {
		t.Errorf("attempts %d, want the kind's 5", tk.Attempts)
	}
}

// A kind's RerunDelay replaces the Config's for the follow-up run of its
// tasks (webhook deliveries follow each other within pass.DeliveryGap, not
// the hour configured here).
func TestKindRerunDelay(t *testing.T) {
	db := openDB(t)
	var runs atomic.Int32
	merged := make(chan struct{})
	start(t, db, workers.Config{Tick: 5 * time.Millisecond, RerunDelay: time.Hour,
		Kinds: map[string]workers.KindPolicy{pass.TaskSyncOrder: {RerunDelay: time.Millisecond}}, Reconcile: -1, RetentionEvery: -1},
		func(ctx context.Context, tk pass.Task) error {
			if runs.Add(1) == 1 {
				<-merged
			}
			return nil
		})
	mergeWhileRunning(t, db, &runs)
	close(merged)
	waitFor(t, "the follow-up run, a millisecond after the first (an hour without the kind's delay)",
		func() bool { return runs.Load() == 2 })
}

// mergeWhileRunning enqueues a task, waits for its first run (runs counts
// them) and enqueues it again, which flags the running task for a
// follow-up run.
func mergeWhileRunning(t *testing.T, db *storage.DB, runs *atomic.Int32) {
	t.Helper()
	if _, err := db.Enqueue(context.Background(), task("a"), time.Now()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first run", func() bool { return runs.Load() == 1 })
	if r, err := db.Enqueue(context.Background(), task("a"), time.Now()); err != nil || r.How != "rerun" {
		t.Fatalf("merge: %+v %v", r, err)
	}
}

func TestPanicIsAFailure(t *testing.T) {
	db := openDB(t)
	var calls atomic.Int32
	start(t, db, workers.Config{Tick: 5 * time.Millisecond, BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
		Reconcile: -1, RetentionEvery: -1}, func(ctx context.Context, tk pass.Task) error {
		if calls.Add(1) == 1 {
			panic("handler bug")
		}
		return nil
	})
	db.Enqueue(context.Background(), task("a"), time.Now())
	waitFor(t, "the task to be done", func() bool { return len(state(t, db, pass.TaskDone)) == 1 })
}

func TestStopDrainsRunningTasks(t *testing.T) {
	db := openDB(t)
	release := make(chan struct{})
	var started, finished atomic.Int32
	d := workers.New(workers.Config{Tick: 5 * time.Millisecond, Workers: 2, Reconcile: -1, RetentionEvery: -1}, db, db,
		map[string]workers.Handler{pass.TaskSyncOrder: func(ctx context.Context, tk pass.Task) error {
			started.Add(1)
			<-release
			finished.Add(1)
			return nil
		}}, nil)
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"a", "b", "c"} {
		db.Enqueue(context.Background(), task(s), time.Now())
	}
	d.Wake()
	waitFor(t, "two tasks to start", func() bool { return started.Load() == 2 })
	stopped := make(chan error)
	go func() { stopped <- d.Stop(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	select {
	case <-stopped:
		t.Fatal("Stop returned while tasks were running")
	default:
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if finished.Load() != 2 || started.Load() != 2 {
		t.Errorf("started %d finished %d; want the 2 running tasks drained and the third not started", started.Load(), finished.Load())
	}
	if n := len(state(t, db, pass.TaskDone)); n != 2 {
		t.Errorf("%d tasks done, want 2", n)
	}
	if n := len(state(t, db, pass.TaskPending)); n != 1 {
		t.Errorf("%d tasks pending, want the third one kept for the next start", n)
	}
}

func TestBackoffIsBounded(t *testing.T) {
	for attempt := 1; attempt < 100; attempt++ {
		d := workers.Backoff(attempt, time.Second, time.Minute)
		if d < 10*time.Millisecond || d > time.Minute {
			t.Fatalf("attempt %d: %v out of [10ms, 1m]", attempt, d)
		}
	}
}

// countingQueue counts how often the dispatcher asks the store for work.
type countingQueue struct {
	*storage.DB
	claims, nextDue atomic.Int64
}

func (c *countingQueue) Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]pass.Task, error) {
	c.claims.Add(1)
	return c.DB.Claim(ctx, now, lease, limit)
}

func (c *countingQueue) NextDue(ctx context.Context) (time.Time, bool, error) {
	c.nextDue.Add(1)
	return c.DB.NextDue(ctx)
}

// TestNoBusyLoopWhenSaturated: with every worker busy and more tasks due,
// the dispatcher waits for a worker instead of polling the store.
func TestNoBusyLoopWhenSaturated(t *testing.T) {
	db := openDB(t)
	q := &countingQueue{DB: db}
	release := make(chan struct{})
	d := workers.New(workers.Config{Tick: time.Hour, Workers: 1, Reconcile: -1, RetentionEvery: -1}, q, db,
		map[string]workers.Handler{pass.TaskSyncOrder: func(ctx context.Context, tk pass.Task) error {
			<-release
			return nil
		}}, nil)
	for _, s := range []string{"a", "b", "c"} {
		db.Enqueue(context.Background(), task(s), time.Now())
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { close(release); d.Stop(context.Background()) }()
	waitFor(t, "the first task to start", func() bool { return len(state(t, db, pass.TaskRunning)) == 1 })
	c0, n0 := q.claims.Load(), q.nextDue.Load()
	time.Sleep(300 * time.Millisecond)
	if c, n := q.claims.Load()-c0, q.nextDue.Load()-n0; c > 2 || n > 2 {
		t.Errorf("while saturated the dispatcher asked for work %d times and for the next due time %d times in 300 ms", c, n)
	}
}

// fixedElector says whether its instance leads.
type fixedElector struct{ leader bool }

func (e fixedElector) IsLeader(context.Context) error {
	if e.leader {
		return nil
	}
	return errors.New("not the leader")
}

// TestSingletonJobsRunOnTheLeader: with an elector, the periodic jobs run
// on the leading instance only, while every instance keeps dispatching
// tasks; Listen wakes the dispatcher.
func TestSingletonJobsRunOnTheLeader(t *testing.T) {
	db := openDB(t)
	var leaderRuns, followerRuns atomic.Int32
	job := func(n *atomic.Int32) []workers.Job {
		return []workers.Job{{Name: "count", Every: 20 * time.Millisecond, Run: func(context.Context) error { n.Add(1); return nil }}}
	}
	wakes := make(chan func(), 1)
	var handled atomic.Int32
	h := func(context.Context, pass.Task) error { handled.Add(1); return nil }
	start(t, db, workers.Config{Elector: fixedElector{true}, Jobs: job(&leaderRuns), Reconcile: -1, RetentionEvery: -1}, h)
	start(t, db, workers.Config{Elector: fixedElector{false}, Jobs: job(&followerRuns), Reconcile: -1, RetentionEvery: -1,
		Tick: time.Hour, Listen: func(ctx context.Context, wake func()) error {
			wakes <- wake
			<-ctx.Done()
			return nil
		}}, h)
	waitFor(t, "the leader's job", func() bool { return leaderRuns.Load() >= 3 })
	if n := followerRuns.Load(); n != 0 {
		t.Errorf("the follower ran the job %d times", n)
	}
	wake := <-wakes
	if _, err := db.Enqueue(context.Background(), task("s1"), time.Now()); err != nil {
		t.Fatal(err)
	}
	wake()
	waitFor(t, "the task", func() bool { return handled.Load() == 1 })
}

// TestMergesBeforeTheReadNeedNoFollowUp: a webhook merged into a running
// task before the run read its source (the handler marks the read, as the
// SecuTix client does when its call goes out) makes no second run (the
// store's tests check that one merged after the read does).
func TestMergesBeforeTheReadNeedNoFollowUp(t *testing.T) {
	db := openDB(t)
	var runs atomic.Int32
	merged := make(chan struct{})
	release := make(chan struct{})
	start(t, db, workers.Config{Tick: 10 * time.Millisecond, RerunDelay: time.Millisecond, Reconcile: -1, RetentionEvery: -1},
		func(ctx context.Context, tk pass.Task) error {
			if runs.Add(1) == 1 {
				<-merged // a webhook arrives while the call waits for the quota
				time.Sleep(300 * time.Millisecond)
				pass.MarkRead(ctx, time.Now()) // the call goes out
				<-release
			}
			return nil
		})
	mergeWhileRunning(t, db, &runs)
	close(merged)
	close(release)
	waitFor(t, "the task to be done", func() bool { return len(state(t, db, pass.TaskDone)) == 1 })
	time.Sleep(100 * time.Millisecond)
	if n := runs.Load(); n != 1 {
		t.Errorf("%d runs, want 1: the merge came before the read", n)
	}
}
