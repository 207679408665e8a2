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
	reqs  chan writeReq
	stop  chan struct{}
	wg    sync.WaitGroup
}

func newGroupCommitter(db *sql.DB, st *stmtCache) *groupCommitter {
	g := &groupCommitter{db: db, stmts: st, reqs: make(chan writeReq, maxGroup*4), stop: make(chan struct{})}
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

// commit writes a batch in one transaction, each write under its own
// savepoint; if the transaction itself fails, each is retried alone.
func (g *groupCommitter) commit(batch []writeReq) {
	ctx := context.Background()
	results := make([]writeResult, len(batch))
	g.stmts.warm(ctx)
	err := func() error {
		tx, err := g.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for i, r := range batch {
			if len(batch) == 1 {
				results[i].res, results[i].err = r.fn(ctx, tx)
				if results[i].err != nil {
					_ = tx.Rollback()
					return nil
				}
				continue
			}
			if _, err := tx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
				_ = tx.Rollback()
				return err
			}
			res, werr := r.fn(ctx, tx)
			if werr != nil {
				if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT w"); err != nil {
					_ = tx.Rollback()
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT w"); err != nil {
				_ = tx.Rollback()
				return err
			}
			results[i] = writeResult{res: res, err: werr}
		}
		return tx.Commit()
	}()
	if err != nil {
		if len(batch) == 1 {
			batch[0].done <- writeResult{err: fmt.Errorf("storage: write: %w", err)}
			return
		}
		for _, r := range batch {
			g.commit([]writeReq{r})
		}
		return
	}
	for i, r := range batch {
		r.done <- results[i]
	}
}
