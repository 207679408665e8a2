package workers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
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

// TestDeferIsNotAFailure: a task that answers a *pass.DeferError runs
// again when it says, as many times as it takes, without spending its
// attempts (MaxAttempts 2 here, five deferrals), and is not dead.
func TestDeferIsNotAFailure(t *testing.T) {
	db := openDB(t)
	var mu sync.Mutex
	var times []time.Time
	start(t, db, workers.Config{Tick: 5 * time.Millisecond, MaxAttempts: 2, Reconcile: -1, RetentionEvery: -1},
		func(ctx context.Context, tk pass.Task) error {
			mu.Lock()
			defer mu.Unlock()
			times = append(times, time.Now())
			if len(times) <= 5 {
				return &pass.DeferError{At: time.Now().Add(50 * time.Millisecond), Why: "streams wait"}
			}
			return nil
		})
	db.Enqueue(context.Background(), task("a"), time.Now())
	waitFor(t, "the task to be done", func() bool { return len(state(t, db, pass.TaskDone)) == 1 })
	mu.Lock()
	defer mu.Unlock()
	if len(times) != 6 {
		t.Fatalf("%d runs, want 6", len(times))
	}
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < 50*time.Millisecond {
			t.Errorf("run %d came %v after the one before, sooner than it asked", i+1, gap)
		}
	}
	if dead := state(t, db, pass.TaskDead); len(dead) != 0 {
		t.Errorf("dead tasks: %+v", dead)
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

// TestKindPolicy: a kind may be retried longer than the others; each run
// knows whether another attempt follows if it fails (pass.RetryLeft), by
// its kind's limit.
func TestKindPolicy(t *testing.T) {
	db := openDB(t)
	var mu sync.Mutex
	var left []bool
	start(t, db, workers.Config{Tick: 5 * time.Millisecond, BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		MaxAttempts: 2, Kinds: map[string]workers.KindPolicy{pass.TaskSyncOrder: {MaxAttempts: 5}},
		Reconcile: -1, RetentionEvery: -1}, func(ctx context.Context, tk pass.Task) error {
		mu.Lock()
		left = append(left, pass.RetryLeft(pass.WithAttempt(ctx, tk.Attempts))) // as workers.Handle says the attempt
		mu.Unlock()
		return errors.New("boom")
	})
	db.Enqueue(context.Background(), task("a"), time.Now())
	waitFor(t, "the task dead", func() bool { return len(state(t, db, pass.TaskDead)) == 1 })
	if tk := state(t, db, pass.TaskDead)[0]; tk.Attempts != 5 {
		t.Errorf("attempts %d, want the kind's 5", tk.Attempts)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []bool{true, true, true, true, false}; !slices.Equal(left, want) {
		t.Errorf("retry left at each attempt: %v, want %v", left, want)
	}
	if pass.RetryLeft(pass.WithAttempt(context.Background(), 1)) {
		t.Error("a run outside a task has a retry left")
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

// logBuffer is a JSON log the dispatcher writes while the test reads it.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewJSONHandler(l, nil)) }

// records returns the records logged so far.
func (l *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range bytes.Lines(l.b.Bytes()) {
		var r map[string]any
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// TestStopCancelsARunningJob: Stop cancels the context of a periodic job
// that is running (reconciliation may take minutes) rather than wait for
// it, and returns nil.
func TestStopCancelsARunningJob(t *testing.T) {
	db := openDB(t)
	started := make(chan struct{})
	ended := make(chan error, 1)
	var runs atomic.Int32
	// Every is the run's deadline too: long enough that only Stop can end
	// the first run's context before it.
	job := workers.Job{Name: "long", Every: 500 * time.Millisecond, Run: func(ctx context.Context) error {
		if runs.Add(1) > 1 {
			return nil
		}
		close(started)
		<-ctx.Done()
		ended <- ctx.Err()
		return ctx.Err()
	}}
	d := workers.New(workers.Config{Jobs: []workers.Job{job}, Reconcile: -1, RetentionEvery: -1}, db, db, nil, nil)
	if err := startAndStop(t, d, started, "the job"); err != nil {
		t.Errorf("Stop: got %v, want nil", err)
	}
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the running job's context ended with %v, want it cancelled by Stop before its %v deadline", err, job.Every)
		}
	default:
		t.Error("Stop returned while the job was running")
	}
}

// TestStopWarnsOfAJobThatIgnoresItsContext: a periodic job still running
// when gocron stops waiting for it was told to stop; Stop names it in a
// warning and does not fail for it.
func TestStopWarnsOfAJobThatIgnoresItsContext(t *testing.T) {
	db := openDB(t)
	started, release := make(chan struct{}), make(chan struct{})
	var runs atomic.Int32
	job := workers.Job{Name: "stubborn", Every: 20 * time.Millisecond, Run: func(context.Context) error {
		if runs.Add(1) == 1 {
			close(started)
			<-release
		}
		return nil
	}}
	var logs logBuffer
	d := workers.New(workers.Config{Jobs: []workers.Job{job}, Reconcile: -1, RetentionEvery: -1}, db, db, nil, logs.logger())
	workers.SetJobStopTimeout(d, 50*time.Millisecond)
	defer close(release)
	if err := startAndStop(t, d, started, "the job"); err != nil {
		t.Errorf("Stop: got %v, want nil", err)
	}
	var warned bool
	for _, r := range logs.records(t) {
		jobs, _ := r["jobs"].([]any)
		warned = warned || r["level"] == "WARN" && slices.Contains(jobs, any("stubborn"))
	}
	if !warned {
		t.Errorf("no warning names the job still running; logged %v", logs.records(t))
	}
}

// TestStopReleasesTheTasksItCancels: a task cancelled by Stop after the
// drain timeout did not fail: it is pending, its attempt not counted (here
// its last), and the next dispatcher runs it.
func TestStopReleasesTheTasksItCancels(t *testing.T) {
	db := openDB(t)
	var mu sync.Mutex
	var results []string
	started := make(chan struct{}, 1)
	d := workers.New(workers.Config{Tick: 5 * time.Millisecond, MaxAttempts: 1, DrainTimeout: 50 * time.Millisecond,
		Reconcile: -1, RetentionEvery: -1, OnAttempt: func(_, _, result string, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			results = append(results, result)
		}}, db, db, map[string]workers.Handler{pass.TaskSyncOrder: func(ctx context.Context, _ pass.Task) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}}, nil)
	if _, err := db.Enqueue(context.Background(), task("a"), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := startAndStop(t, d, started, "the task"); err != nil {
		t.Fatal(err)
	}
	pending := state(t, db, pass.TaskPending)
	if len(pending) != 1 || pending[0].Attempts != 0 {
		t.Fatalf("after Stop: got %d pending tasks (%+v) and %d dead, want the task pending with no attempt counted",
			len(pending), pending, len(state(t, db, pass.TaskDead)))
	}
	mu.Lock()
	if len(results) != 0 {
		t.Errorf("the cancelled run was recorded as %v, want no attempt", results)
	}
	mu.Unlock()
	start(t, db, workers.Config{Tick: 5 * time.Millisecond, MaxAttempts: 1, Reconcile: -1, RetentionEvery: -1},
		func(context.Context, pass.Task) error { return nil })
	waitFor(t, "the next dispatcher to run the task", func() bool { return len(state(t, db, pass.TaskDone)) == 1 })
}

// leaseQueue is the store, except that renewing a lease always fails with
// extendErr; it counts the results recorded.
type leaseQueue struct {
	*storage.DB
	extendErr error
	hang      bool         // a renewal waits until its context ends
	results   atomic.Int32 // calls of Complete, Fail and Release
}

func (q *leaseQueue) Extend(ctx context.Context, _ pass.Task, _ time.Time) error {
	if q.hang {
		<-ctx.Done()
		return ctx.Err()
	}
	return q.extendErr
}

func (q *leaseQueue) Complete(ctx context.Context, t pass.Task, now, rerunAt time.Time) error {
	q.results.Add(1)
	return q.DB.Complete(ctx, t, now, rerunAt)
}

func (q *leaseQueue) Fail(ctx context.Context, t pass.Task, cause string, retryAt time.Time, dead bool, now time.Time) error {
	q.results.Add(1)
	return q.DB.Fail(ctx, t, cause, retryAt, dead, now)
}

func (q *leaseQueue) Release(ctx context.Context, t pass.Task, now time.Time) error {
	q.results.Add(1)
	return q.DB.Release(ctx, t, now)
}

// TestLostLeaseCancelsTheRun: a run whose lease was taken by another
// worker, or ran out while the store refused to renew it, is cancelled
// with ErrLeaseLost, and records no result with the lease it lost.
func TestLostLeaseCancelsTheRun(t *testing.T) {
	for _, tc := range []struct {
		name      string
		extendErr error
		hang      bool
	}{
		{"another worker took the task", pass.Errorf(pass.KindConflict, "task: lease lost"), false},
		{"the store is down until the lease ends", pass.Errorf(pass.KindUnavailable, "database is down"), false},
		{"a renewal hangs past the lease's end", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openDB(t)
			q := &leaseQueue{DB: db, extendErr: tc.extendErr, hang: tc.hang}
			causes := make(chan error, 1)
			d := workers.New(workers.Config{Tick: 10 * time.Millisecond, Lease: 150 * time.Millisecond, Reconcile: -1, RetentionEvery: -1},
				q, db, map[string]workers.Handler{pass.TaskSyncOrder: func(ctx context.Context, _ pass.Task) error {
					<-ctx.Done()
					select {
					case causes <- context.Cause(ctx):
					default:
					}
					return ctx.Err()
				}}, nil)
			if _, err := db.Enqueue(context.Background(), task("a"), time.Now()); err != nil {
				t.Fatal(err)
			}
			if err := d.Start(); err != nil {
				t.Fatal(err)
			}
			select {
			case cause := <-causes:
				if !errors.Is(cause, workers.ErrLeaseLost) {
					t.Errorf("the run's context ended with cause %v, want ErrLeaseLost", cause)
				}
			case <-time.After(20 * time.Second):
				t.Error("the run went on after it lost its lease")
			}
			if err := d.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := q.results.Load(); n != 0 {
				t.Errorf("%d results recorded with a lost lease, want none", n)
			}
		})
	}
}

// explode is a handler's bug.
func explode() { panic("handler bug") }

// TestPanicLogsItsStack: a panicking task logs the panic with its stack;
// the task's stored error, which operators list, has the panic only.
func TestPanicLogsItsStack(t *testing.T) {
	db := openDB(t)
	var logs logBuffer
	d := workers.New(workers.Config{Tick: 5 * time.Millisecond, MaxAttempts: 1, Reconcile: -1, RetentionEvery: -1}, db, db,
		map[string]workers.Handler{pass.TaskSyncOrder: func(context.Context, pass.Task) error {
			explode()
			return nil
		}}, logs.logger())
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Stop(context.Background()) })
	if _, err := db.Enqueue(context.Background(), task("a"), time.Now()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the task dead", func() bool { return len(state(t, db, pass.TaskDead)) == 1 })
	if got := state(t, db, pass.TaskDead)[0].LastError; got != "panic: handler bug" {
		t.Errorf("stored error %q, want %q", got, "panic: handler bug")
	}
	var logged bool
	for _, r := range logs.records(t) {
		stack, _ := r["stack"].(string)
		logged = logged || r["panic"] == "handler bug" && strings.Contains(stack, "workers_test.explode")
	}
	if !logged {
		t.Errorf("no record has the panic with the stack of explode; logged %v", logs.records(t))
	}
}

// recorder collects what the dispatcher's hooks hear.
type recorder struct {
	mu    sync.Mutex
	heard []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.heard = append(r.heard, s)
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.heard)
}

func (r *recorder) has(s string) bool { return slices.Contains(r.all(), s) }

// TestAttemptsNameTheirTenant: OnAttempt hears the tenant and kind of the
// task each attempt ran, with its result.
func TestAttemptsNameTheirTenant(t *testing.T) {
	db := openDB(t)
	var heard recorder
	var runs atomic.Int32
	start(t, db, workers.Config{Tick: 10 * time.Millisecond, BaseBackoff: time.Millisecond, Reconcile: -1, RetentionEvery: -1,
		OnAttempt: func(tenant, kind, result string, _ time.Duration) { heard.add(tenant + " " + kind + " " + result) }},
		func(context.Context, pass.Task) error {
			if runs.Add(1) == 1 {
				return errors.New("SecuTix is slow")
			}
			return nil
		})
	if _, err := db.Enqueue(context.Background(), task("s1"), time.Now()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the task's second attempt", func() bool { return len(heard.all()) == 2 })
	want := []string{"demo " + pass.TaskSyncOrder + " retry", "demo " + pass.TaskSyncOrder + " done"}
	if got := heard.all(); !slices.Equal(got, want) {
		t.Errorf("OnAttempt heard %q, want %q", got, want)
	}
}

// brokenMaintenance is the store, except that listing the recent orders
// fails.
type brokenMaintenance struct{ *storage.DB }

func (brokenMaintenance) RecentOrders(context.Context, time.Time, int) ([]pass.OrderRef, error) {
	return nil, errors.New("database is locked")
}

// TestJobResultsAreReported: OnJob hears each run of a periodic job, the
// dispatcher's own and Config.Jobs alike: an error is JobError and is
// logged, nil is JobSuccess. JobNames lists them.
func TestJobResultsAreReported(t *testing.T) {
	db := openDB(t)
	var heard recorder
	var logs logBuffer
	every := 20 * time.Millisecond
	cfg := workers.Config{Reconcile: every, RetentionEvery: every,
		Jobs: []workers.Job{
			{Name: "broken", Every: every, Run: func(context.Context) error { return errors.New("bucket gone") }},
			{Name: "fine", Every: every, Run: func(context.Context) error { return nil }},
		},
		OnJob: func(job, result string) { heard.add(job + " " + result) }}
	d := workers.New(cfg, db, brokenMaintenance{db}, nil, logs.logger())
	if got, want := d.JobNames(), []string{"reconcile", "retention", "broken", "fine"}; !slices.Equal(got, want) {
		t.Errorf("JobNames: got %q, want %q", got, want)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	want := []string{"reconcile error", "retention success", "broken error", "fine success"}
	waitFor(t, "a run of every job", func() bool {
		for _, w := range want {
			if !heard.has(w) {
				return false
			}
		}
		return true
	})
	if err := d.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, h := range heard.all() {
		if !slices.Contains(want, h) {
			t.Errorf("OnJob heard %q; every run of a job should end the same way here (%q)", h, want)
		}
	}
	logged := map[string]bool{}
	for _, r := range logs.records(t) {
		if r["level"] == "ERROR" && r["msg"] == "periodic job" {
			job, _ := r["job"].(string)
			logged[job] = true
		}
	}
	if !logged["broken"] || !logged["reconcile"] || logged["fine"] || logged["retention"] {
		t.Errorf("the jobs logged as failed: %v, want broken and reconcile", logged)
	}
}

// TestAJobStopCutsShortIsNotReported: a run whose context Stop cancelled
// did not fail: OnJob hears nothing of it, and nothing is logged as an
// error.
func TestAJobStopCutsShortIsNotReported(t *testing.T) {
	db := openDB(t)
	var heard recorder
	var logs logBuffer
	started := make(chan struct{})
	var runs atomic.Int32
	job := workers.Job{Name: "long", Every: 500 * time.Millisecond, Run: func(ctx context.Context) error {
		if runs.Add(1) == 1 {
			close(started)
		}
		<-ctx.Done()
		return ctx.Err()
	}}
	d := workers.New(workers.Config{Jobs: []workers.Job{job}, Reconcile: -1, RetentionEvery: -1,
		OnJob: func(job, result string) { heard.add(job + " " + result) }}, db, db, nil, logs.logger())
	if err := startAndStop(t, d, started, "the job"); err != nil {
		t.Fatal(err)
	}
	if got := heard.all(); len(got) != 0 {
		t.Errorf("OnJob heard %q of a run Stop cancelled, want nothing", got)
	}
	for _, r := range logs.records(t) {
		if r["level"] == "ERROR" {
			t.Errorf("logged an error for a run Stop cancelled: %v", r)
		}
	}
}

// TestLeadershipIsReported: OnLeader hears whether the instance runs the
// periodic jobs as soon as it starts (before any job is due), and false
// once it stopped.
func TestLeadershipIsReported(t *testing.T) {
	tests := []struct {
		name    string
		elector gocron.Elector
		want    string
	}{
		{name: "no elector", want: "true"},
		{name: "leader", elector: fixedElector{true}, want: "true"},
		{name: "follower", elector: fixedElector{false}, want: "false"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openDB(t)
			var heard recorder
			d := workers.New(workers.Config{Elector: tc.elector, Reconcile: -1, RetentionEvery: -1,
				Jobs:     []workers.Job{{Name: "daily", Every: 24 * time.Hour, Run: func(context.Context) error { return nil }}},
				OnLeader: func(leading bool) { heard.add(strconv.FormatBool(leading)) }}, db, db, nil, nil)
			if err := d.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the first answer", func() bool { return len(heard.all()) > 0 })
			if got := heard.all(); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("after Start OnLeader heard %q, want %q", got, tc.want)
			}
			if err := d.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := heard.all(); got[len(got)-1] != "false" {
				t.Errorf("after Stop OnLeader heard %q last, want false", got[len(got)-1])
			}
		})
	}
}

// startAndStop starts d, waits until what (a task or a job) has started
// and signalled started, and returns what stopping d returns.
func startAndStop(t *testing.T, d *workers.Dispatcher, started <-chan struct{}, what string) error {
	t.Helper()
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		d.Stop(context.Background())
		t.Fatalf("%s never started", what)
	}
	return d.Stop(context.Background())
}
