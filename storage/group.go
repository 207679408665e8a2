// Hot path: group commit of webhooks and the queue's small writes, with a
// context flag (notifyKey) so that one batch sends one NOTIFY. Guarded by
// BenchmarkWebhookAck against BenchmarkBareGinAck (httpapi/bench_test.go)
// and scripts/bench-webhooks.sh, and by TestGroupCommitIsolatesFailures
// (group_test.go: one failed write does not undo the others, on both
// databases).

package storage

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"walletpass/pass"
)

// maxGroup bounds how many webhooks one group commit takes.
const maxGroup = 128

type writeResult struct {
	res pass.Enqueued
	err error
}

type writeReq struct {
	fn   func(ctx context.Context, tx *sql.Tx) (pass.Enqueued, error)
	done chan writeResult
}

// groupCommitter runs one goroutine that takes the writes waiting (webhooks,
// task completions, timeline entries) and commits them in one
// transaction: on a single-writer store (SQLite), one commit per write
// would cap the whole service at the commit rate.
type groupCommitter struct {
	db    *sql.DB
	stmts *stmtCache
	// notify, when set, runs once before a commit whose writes asked for
	// it (see deferNotify): one NOTIFY per batch instead of one per write.
	notify func(ctx context.Context, tx *sql.Tx) error
	reqs   chan writeReq
	stop   chan struct{}
	wg     sync.WaitGroup
}

func newGroupCommitter(db *sql.DB, st *stmtCache, notify func(context.Context, *sql.Tx) error) *groupCommitter {
	g := &groupCommitter{db: db, stmts: st, notify: notify, reqs: make(chan writeReq, maxGroup*4), stop: make(chan struct{})}
	g.wg.Add(1)
	go g.run()
	return g
}

// close stops the goroutine after it has written what was submitted.
func (g *groupCommitter) close() {
	close(g.stop)
	g.wg.Wait()
}

func (g *groupCommitter) submit(ctx context.Context, fn func(context.Context, *sql.Tx) (pass.Enqueued, error)) (pass.Enqueued, error) {
	req := writeReq{fn: fn, done: make(chan writeResult, 1)}
	select {
	case g.reqs <- req:
	case <-g.stop:
		return pass.Enqueued{}, pass.Errorf(pass.KindUnavailable, "storage: closed")
	case <-ctx.Done():
		return pass.Enqueued{}, ctx.Err()
	}
	// Once submitted the write happens whatever the caller does: wait for
	// it, so that an acknowledged webhook is always a durable one.
	r := <-req.done
	return r.res, r.err
}

func (g *groupCommitter) run() {
	defer g.wg.Done()
	for {
		var first writeReq
		select {
		case first = <-g.reqs:
		case <-g.stop:
			// Drain what was submitted before the stop.
			for {
				select {
				case r := <-g.reqs:
					g.commit([]writeReq{r})
				default:
					return
				}
			}
		}
		batch := []writeReq{first}
	fill:
		for len(batch) < maxGroup {
			select {
			case r := <-g.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		g.commit(batch)
	}
}

// notifyKey marks the context of a group commit's writes: it holds the
// *bool a write sets to ask for the commit's notification.
type notifyKey struct{}

// deferNotify reports whether ctx is a group commit's, and if so asks for
// its notification.
func deferNotify(ctx context.Context) bool {
	f, ok := ctx.Value(notifyKey{}).(*bool)
	if ok {
		*f = true
	}
	return ok
}

// commit writes a batch in one transaction. It first runs the writes one
// after the other; writes rarely fail (a lost lease, a deadlock with
// another instance), and each savepoint costs a round trip to PostgreSQL.
// If one fails, the batch runs again with each write under its own
// savepoint, so that the others still commit; if the transaction itself
// fails, each write is retried alone.
func (g *groupCommitter) commit(batch []writeReq) {
	results, ok := g.attempt(batch, false)
	if !ok && len(batch) > 1 {
		results, ok = g.attempt(batch, true)
		if !ok {
			for _, r := range batch {
				g.commit([]writeReq{r})
			}
			return
		}
	}
	for i, r := range batch {
		r.done <- results[i]
	}
}

// attempt runs the batch in one transaction, each write under a savepoint
// when savepoints is set. Without savepoints it gives up (false) at the
// first failed write; with them a failed write is undone and reported in
// its result. It also reports false when the transaction fails, with the
// error in results[0] for a batch of one.
func (g *groupCommitter) attempt(batch []writeReq, savepoints bool) ([]writeResult, bool) {
	var wantNotify bool
	ctx := context.WithValue(context.Background(), notifyKey{}, &wantNotify)
	results := make([]writeResult, len(batch))
	g.stmts.warm(ctx)
	tx, err := g.db.BeginTx(ctx, nil)
	fail := func(err error) ([]writeResult, bool) {
		if tx != nil {
			_ = tx.Rollback()
		}
		results[0] = writeResult{err: fmt.Errorf("storage: write: %w", err)}
		return results, false
	}
	if err != nil {
		tx = nil
		return fail(err)
	}
	for i, r := range batch {
		if !savepoints {
			results[i].res, results[i].err = r.fn(ctx, tx)
			if results[i].err != nil {
				_ = tx.Rollback()
				// A batch of one reports the write's own error.
				return results, len(batch) == 1
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
			return fail(err)
		}
		res, werr := r.fn(ctx, tx)
		if werr != nil {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT w"); err != nil {
				return fail(err)
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT w"); err != nil {
			return fail(err)
		}
		results[i] = writeResult{res: res, err: werr}
	}
	if wantNotify && g.notify != nil {
		if err := g.notify(ctx, tx); err != nil {
			return fail(err)
		}
	}
	if err := tx.Commit(); err != nil {
		tx = nil // a failed commit has ended the transaction
		return fail(err)
	}
	return results, true
}
