// Hot path: an in-memory cache of pass metadata for the PassKit web
// service's GET (SQLite only). Guarded by BenchmarkPass304 against
// BenchmarkBareGin304 (httpapi/bench_test.go) and by TestPassMetaNeverStale
// (store_test.go: a cached entry is never older than the last commit).

package storage

import (
	"sync"
	"sync/atomic"

	"walletpass/pass"
)

// metaCache keeps pass metadata (what the PassKit web service reads on
// every GET) in memory for a store that only this process writes (SQLite).
// Every pass write drops its entry after the commit, and a read that raced
// a write does not fill the cache (the epoch moved), so a cached entry is
// never older than the last commit.
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
