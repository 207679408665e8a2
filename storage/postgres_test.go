package storage_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"

	"walletpass/pass"
	"walletpass/storage"
)

var _ gocron.Elector = (*storage.Elector)(nil)

// handles opens n handles on d, like n instances sharing the database.
func handles(t *testing.T, d testDB, n int) []*storage.DB {
	t.Helper()
	out := make([]*storage.DB, n)
	for i := range out {
		out[i] = d.handle(t)
	}
	return out
}

// claimAll has every handle claim concurrently, limit tasks at a time,
// until none is due at now; it returns how often each task was claimed
// and checks each claim's attempt count.
func claimAll(t *testing.T, dbs []*storage.DB, now time.Time, limit, attempts int) map[string]int {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	claimed := map[string]int{}
	var wg sync.WaitGroup
	for _, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				tasks, err := db.Claim(ctx, now, time.Minute, limit)
				if err != nil {
					t.Error(err)
					return
				}
				if len(tasks) == 0 {
					return
				}
				mu.Lock()
				for _, tk := range tasks {
					claimed[tk.ID]++
					if tk.Attempts != attempts {
						t.Errorf("task %s claimed at attempt %d, want %d", tk.ID, tk.Attempts, attempts)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return claimed
}

// TestPostgresClaimsNeverOverlap has four instances claim the same tasks
// at once: every task is claimed exactly once, and once more after its
// lease expired.
func TestPostgresClaimsNeverOverlap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbs := handles(t, postgresDB(t), 4)
	const n = 200
	for i := range n {
		if _, err := dbs[i%4].Enqueue(ctx, syncTask(fmt.Sprintf("o%03d", i)), t0); err != nil {
			t.Fatal(err)
		}
	}
	for round, at := range []time.Time{t0, t0.Add(2 * time.Minute)} { // then every lease has expired
		claimed := claimAll(t, dbs, at, 7, round+1)
		if len(claimed) != n {
			t.Errorf("round %d: %d tasks claimed, want %d", round+1, len(claimed), n)
		}
		for id, times := range claimed {
			if times != 1 {
				t.Errorf("round %d: task %s claimed %d times", round+1, id, times)
			}
		}
		if more, err := dbs[0].Claim(ctx, at, time.Minute, n); err != nil || len(more) != 0 {
			t.Errorf("round %d: %d tasks left (%v)", round+1, len(more), err)
		}
	}
}

// TestPostgresConcurrentWebhooksOneTask records webhooks for one order
// from two instances at once: one task, every other webhook merged into
// it, and every webhook stored.
func TestPostgresConcurrentWebhooksOneTask(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbs := handles(t, postgresDB(t), 2)
	const n = 40
	var wg sync.WaitGroup
	results := make(chan pass.Enqueued, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := event("s1", 1, "MODIFIED", t0.Add(time.Duration(i)*time.Millisecond))
			r, err := dbs[i%2].RecordWebhook(ctx, ev, syncTask("s1"), t0)
			if err != nil {
				t.Error(err)
				return
			}
			results <- r
		}()
	}
	wg.Wait()
	close(results)
	ids := map[string]bool{}
	how := map[string]int{}
	for r := range results {
		ids[r.TaskID] = true
		how[r.How]++
	}
	if len(ids) != 1 || how["created"] != 1 || how["merged"] != n-1 {
		t.Fatalf("%d webhooks made tasks %v: %v, want one created and %d merged", n, ids, how, n-1)
	}
	claimed, err := dbs[0].Claim(ctx, t0, time.Minute, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claimed %d tasks (%v), want 1", len(claimed), err)
	}
	if claimed[0].Merged != n-1 {
		t.Errorf("merged = %d, want %d", claimed[0].Merged, n-1)
	}
	tl, err := dbs[1].Timeline(ctx, "demo", "s1", 0)
	if err != nil || len(tl) != n {
		t.Errorf("timeline has %d webhooks (%v), want %d", len(tl), err, n)
	}
}

// TestPostgresConcurrentUpdatesAcrossInstances updates one pass to the
// same version from two instances at once: exactly one wins, the others
// get a conflict, and exactly one version and one push task are written.
func TestPostgresConcurrentUpdatesAcrossInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbs := handles(t, postgresDB(t), 2)
	p := newPass("s1", 100)
	if err := dbs[0].CreatePass(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := *p
			next.Version, next.UpdateTag, next.ContentHash = 2, p.UpdateTag+int64(i)+1, fmt.Sprintf("h%d", i)
			err := dbs[i%2].UpdatePass(ctx, &next, pushFollows(&next))
			switch {
			case err == nil:
				mu.Lock()
				wins++
				mu.Unlock()
			case pass.KindOf(err) != pass.KindConflict:
				t.Errorf("update: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d concurrent updates to version 2 won, want exactly 1", wins)
	}
	if vs, _ := dbs[1].ListVersions(ctx, "demo", "s1"); len(vs) != 2 {
		t.Errorf("versions = %d, want 2", len(vs))
	}
	if tasks, _ := dbs[1].ListTasks(ctx, pass.TaskPending, 10); len(tasks) != 1 {
		t.Errorf("pending tasks = %+v, want the one push task", tasks)
	}
}

// TestPostgresDeadlockRetried makes two transactions lock two tasks in
// opposite orders: PostgreSQL aborts one to break the deadlock, and the
// store runs it again, so both succeed.
func TestPostgresDeadlockRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := postgresDB(t).handle(t)
	var ids [2]string
	for i := range ids {
		r, err := db.Enqueue(ctx, syncTask(fmt.Sprintf("o%d", i)), t0)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = r.TaskID
	}
	var holding sync.WaitGroup // both hold their first lock
	holding.Add(2)
	var attempts atomic.Int32
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := true
			err := storage.InTx(ctx, db, func(tx *sql.Tx) error {
				attempts.Add(1)
				for j, id := range []string{ids[i], ids[1-i]} {
					if _, err := tx.ExecContext(ctx, `UPDATE tasks SET merged = merged + 1 WHERE id = $1`, id); err != nil {
						return err
					}
					if j == 0 && first {
						first = false
						holding.Done()
						holding.Wait()
					}
				}
				return nil
			})
			if err != nil {
				t.Errorf("transaction %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if n := attempts.Load(); n < 3 {
		t.Errorf("%d attempts, want 3 or more (the deadlock's victim run again)", n)
	}
	tasks, err := db.ListTasks(ctx, pass.TaskPending, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != len(ids) {
		t.Fatalf("%d pending tasks, want the %d locked", len(tasks), len(ids))
	}
	for _, tk := range tasks {
		if tk.Merged != 2 {
			t.Errorf("task %s merged = %d, want 2", tk.ID, tk.Merged)
		}
	}
}

// listener runs db.ListenTasks until the test ends and returns a channel
// that receives a value for each wake-up (at most one waiting).
func listener(t *testing.T, db *storage.DB) <-chan struct{} {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	woken := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- db.ListenTasks(ctx, func() {
			select {
			case woken <- struct{}{}:
			default:
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ListenTasks: %v", err)
		}
	})
	return woken
}

// waitWoken waits for a wake-up, failing the test after d.
func waitWoken(t *testing.T, woken <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-woken:
	case <-time.After(d):
		t.Fatalf("%s: no wake-up after %v", what, d)
	}
}

// drain forgets wake-ups sent until now (and those in flight for quiet).
func drain(woken <-chan struct{}, quiet time.Duration) {
	for {
		select {
		case <-woken:
		case <-time.After(quiet):
			return
		}
	}
}

// TestPostgresNotifyWakesOtherInstance listens on one instance: a NOTIFY,
// a webhook recorded or a follow-up run queued on another wakes it, and so
// does its own reconnection after its connection was killed; another
// schema's notifications do not.
func TestPostgresNotifyWakesOtherInstance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := postgresDB(t)
	dbs := handles(t, d, 2)
	woken := listener(t, dbs[1])
	// ListenTasks does not say when it listens: notify until it hears.
	deadline := time.Now().Add(10 * time.Second)
	for heard := false; !heard; {
		if err := dbs[0].NotifyTasks(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-woken:
			heard = true
		case <-time.After(50 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("ListenTasks never heard NotifyTasks")
			}
		}
	}
	drain(woken, 200*time.Millisecond)
	if _, err := dbs[0].RecordWebhook(ctx, event("s1", 1, "PAID", t0), syncTask("s1"), t0); err != nil {
		t.Fatal(err)
	}
	waitWoken(t, woken, 5*time.Second, "webhook recorded on another instance")

	// A follow-up run queued by Complete wakes the other instances too.
	drain(woken, 200*time.Millisecond)
	c, err := dbs[0].Claim(ctx, t0, time.Minute, 1)
	if err != nil || len(c) != 1 {
		t.Fatalf("claim: %v %v", c, err)
	}
	if _, err := dbs[0].Enqueue(ctx, syncTask("s1"), t0); err != nil { // running: a rerun
		t.Fatal(err)
	}
	drain(woken, 200*time.Millisecond)
	if err := dbs[0].Complete(ctx, c[0], t0, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	waitWoken(t, woken, 5*time.Second, "follow-up run queued on another instance")

	// Another schema's notifications are not ours.
	drain(woken, 200*time.Millisecond)
	if err := postgresDB(t).handle(t).NotifyTasks(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-woken:
		t.Error("woken by another schema's notification")
	case <-time.After(300 * time.Millisecond):
	}

	// The listener's connection dies: it reconnects and wakes once.
	drain(woken, 200*time.Millisecond)
	killed := terminate(t, d, `query LIKE 'LISTEN%'`)
	if killed != 1 {
		t.Fatalf("terminated %d listening connections, want 1", killed)
	}
	waitWoken(t, woken, 5*time.Second, "reconnection")
	drain(woken, 200*time.Millisecond)
	if err := dbs[0].NotifyTasks(ctx); err != nil {
		t.Fatal(err)
	}
	waitWoken(t, woken, 5*time.Second, "NOTIFY after the reconnection")
}

// terminate ends the backends of d's connections that match the SQL
// condition on pg_stat_activity, and returns how many it ended.
func terminate(t *testing.T, d testDB, cond string) int {
	t.Helper()
	admin, err := adminDB(d.adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	err = admin.QueryRowContext(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND pid <> pg_backend_pid() AND `+cond, d.schema).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPostgresElector has two instances ask to lead under one name:
// exactly one leads until it closes its elector or loses its connection,
// then the other takes over.
func TestPostgresElector(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := postgresDB(t)
	dbs := handles(t, d, 2)
	a, b := dbs[0].Elector("dispatch"), dbs[1].Elector("dispatch")
	for range 3 {
		if err := a.IsLeader(ctx); err != nil {
			t.Fatalf("first elector: %v, want leader", err)
		}
		if err := b.IsLeader(ctx); !errors.Is(err, storage.ErrNotLeader) {
			t.Fatalf("second elector: %v, want ErrNotLeader", err)
		}
	}
	if err := dbs[1].Elector("reconcile").IsLeader(ctx); err != nil {
		t.Errorf("another name: %v, want leader", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.IsLeader(ctx); err == nil {
		t.Error("a closed elector leads")
	}
	if err := b.IsLeader(ctx); err != nil {
		t.Fatalf("after the leader closed: %v, want leader", err)
	}

	// The leader's connection dies: it no longer leads, and another
	// instance takes over once the server has ended the session.
	if n := terminate(t, d, `pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory')`); n != 2 {
		t.Fatalf("terminated %d lock holders, want 2 (dispatch and reconcile)", n)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		err := b.IsLeader(ctx)
		if err == nil && time.Now().Before(deadline) {
			continue // the server has not ended the session yet
		}
		if err == nil || errors.Is(err, storage.ErrNotLeader) {
			t.Fatalf("after its connection died: %v, want a connection error", err)
		}
		break
	}
	c := dbs[0].Elector("dispatch")
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := c.IsLeader(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, storage.ErrNotLeader) || time.Now().After(deadline) {
			t.Fatalf("new elector: %v, want leader", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := b.IsLeader(ctx); !errors.Is(err, storage.ErrNotLeader) {
		t.Errorf("the former leader: %v, want ErrNotLeader", err)
	}
}

// TestSQLiteCoordinationIsLocal checks that coordination stays in the
// process on SQLite, whose one process is the only writer: ListenTasks
// hears this process's enqueues (and NotifyTasks) until its context ends,
// and every elector leads.
func TestSQLiteCoordinationIsLocal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := sqliteDB(t).handle(t)
	lctx, cancel := context.WithCancel(ctx)
	woken := make(chan struct{}, 100)
	done := make(chan error, 1)
	go func() { done <- db.ListenTasks(lctx, func() { woken <- struct{}{} }) }()
	// The listener is in place once a notification reaches it.
	deadline := time.Now().Add(5 * time.Second)
	for len(woken) == 0 {
		if err := db.NotifyTasks(ctx); err != nil {
			t.Fatalf("NotifyTasks: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("NotifyTasks does not wake the listener")
		}
		time.Sleep(time.Millisecond)
	}
	for len(woken) > 0 {
		<-woken
	}
	if _, err := db.Enqueue(ctx, pass.TaskOf(pass.OrderRef{Tenant: "demo", FileID: 1}, ""), time.Now()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-woken:
	case <-time.After(5 * time.Second):
		t.Fatal("an enqueue does not wake the listener")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenTasks: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ListenTasks does not return when its context ends")
	}
	a, b := db.Elector("dispatch"), db.Elector("dispatch")
	if a.IsLeader(ctx) != nil || b.IsLeader(ctx) != nil {
		t.Error("an elector does not lead on SQLite")
	}
	if err := a.Close(); err != nil {
		t.Error(err)
	}
}

// TestPostgresElectorRunsJobsOnce gives two gocron schedulers, one per
// instance, the same job and electors of the same name: only one runs it.
func TestPostgresElectorRunsJobsOnce(t *testing.T) {
	t.Parallel()
	dbs := handles(t, postgresDB(t), 2)
	var runs [2]atomic.Int32
	for i, db := range dbs {
		s, err := gocron.NewScheduler(gocron.WithDistributedElector(db.Elector("retention")))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.NewJob(gocron.DurationJob(20*time.Millisecond), gocron.NewTask(func() { runs[i].Add(1) }),
			gocron.WithName("retention")); err != nil {
			t.Fatal(err)
		}
		s.Start()
		t.Cleanup(func() { _ = s.Shutdown() })
	}
	deadline := time.Now().Add(5 * time.Second)
	for runs[0].Load()+runs[1].Load() < 10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	a, b := runs[0].Load(), runs[1].Load()
	if (a == 0) == (b == 0) {
		t.Errorf("runs per instance = %d and %d, want all on one", a, b)
	}
}

// TestPostgresEndsIdleTransactions: the store's sessions have PostgreSQL
// end a transaction left idle for a minute (an instance cut off while it
// held row locks), unless the DSN says otherwise.
func TestPostgresEndsIdleTransactions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := postgresDB(t).handle(t)
	var got string
	if err := storage.InTx(ctx, db, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `SHOW idle_in_transaction_session_timeout`).Scan(&got)
	}); err != nil {
		t.Fatal(err)
	}
	if got != "1min" {
		t.Errorf("idle_in_transaction_session_timeout = %q, want 1min", got)
	}
}

// TestClockOffset: the server's clock, as measured, is this machine's
// (both stores run here); SQLite has none of its own.
func TestClockOffset(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		offset, uncertainty, err := db.ClockOffset(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if offset.Abs() > time.Minute || uncertainty < 0 || uncertainty > time.Minute {
			t.Errorf("offset %s ± %s, want the same clock", offset, uncertainty)
		}
	})
}
