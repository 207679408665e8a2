// Hot path: an in-memory cache of pass metadata for the PassKit web
// service's GET (SQLite only). Guarded by BenchmarkPass304 against
// BenchmarkBareGin304 (httpapi/bench_test.go) and by TestPassMetaNeverStale
// (store_test.go: a cached entry is never older than the last commit).

package storage

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"

	"walletpass/pass"
)

// metaCache keeps pass metadata (what the PassKit web service reads on
// every GET) in memory for a store this process writes (SQLite). Every
// pass write drops its entry after the commit, and a read that raced a
// write does not fill the cache (the epoch moved), so a cached entry is
// never older than this process's last commit. Another process that
// writes the file (`walletpass holders erase`) is caught by a foreignWatch,
// which empties the cache.
type metaCache struct {
	mu    sync.RWMutex
	m     map[string]pass.Pass
	epoch atomic.Uint64
}

// metaCacheMax bounds the cache; past it, the cache starts over.
const metaCacheMax = 50_000

func newMetaCache() *metaCache { return &metaCache{m: map[string]pass.Pass{}} }

func metaKey(tenant, serial string) string { return tenant + "\x00" + serial }

func (c *metaCache) get(tenant, serial string) (*pass.Pass, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.RLock()
	p, ok := c.m[metaKey(tenant, serial)]
	c.mu.RUnlock()
	if !ok {
		return nil, false
	}
	return &p, true
}

// begin returns the epoch to give put after reading the database.
func (c *metaCache) begin() uint64 {
	if c == nil {
		return 0
	}
	return c.epoch.Load()
}

func (c *metaCache) put(p *pass.Pass, epoch uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch.Load() != epoch {
		return // a write committed while we read: our copy may be older
	}
	if len(c.m) >= metaCacheMax {
		c.m = map[string]pass.Pass{}
	}
	c.m[metaKey(p.Tenant, p.SerialNumber)] = *p
}

// drop forgets a pass after a write to it was committed (or failed).
func (c *metaCache) drop(tenant, serial string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.epoch.Add(1)
	delete(c.m, metaKey(tenant, serial))
	c.mu.Unlock()
}

// flush forgets every pass (another process wrote the database).
func (c *metaCache) flush() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.epoch.Add(1)
	c.m = map[string]pass.Pass{}
	c.mu.Unlock()
}

// foreignWatch empties a metaCache when another process committed to the
// database file: SQLite's data_version, read on the writer's connection
// (this process's own writes do not change it there), changes then. The
// writes of another process are seen within foreignWatchEvery, and before
// any task is claimed (Claim checks first), so that a push a CLI queued
// with its change never reaches a phone before the cache has forgotten
// the pass.
type foreignWatch struct {
	db   *sql.DB // the writer's pool, of one connection
	meta *metaCache
	mu   sync.Mutex
	last int64
	stop chan struct{}
	done chan struct{}
}

const foreignWatchEvery = 250 * time.Millisecond

func newForeignWatch(db *sql.DB, meta *metaCache) *foreignWatch {
	w := &foreignWatch{db: db, meta: meta, last: -1, stop: make(chan struct{}), done: make(chan struct{})}
	w.check(context.Background())
	go func() {
		defer close(w.done)
		t := time.NewTicker(foreignWatchEvery)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				w.check(context.Background())
			}
		}
	}()
	return w
}

// check empties the cache if the database changed since the last check
// (or cannot tell: an error empties it too).
func (w *foreignWatch) check(ctx context.Context) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var v int64
	if err := w.db.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil || v != w.last {
		if w.last != -1 || err != nil {
			w.meta.flush()
		}
		w.last = v
	}
}

func (w *foreignWatch) close() {
	if w == nil {
		return
	}
	close(w.stop)
	<-w.done
}
