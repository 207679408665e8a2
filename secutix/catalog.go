package secutix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"walletpass/pass"
)

// SecuTix's orders name their performance but not its date: the start and
// duration are in the catalogue (catalogService/getCatalogDetailed, which
// SecuTix allows once per 10 minutes), and the only time zone is the point
// of sale's (getPOSConfig's organizationTimeZone). The client keeps both
// per tenant: the catalogue is fetched on first use, again when an order
// names a performance it does not hold or when getLastSetupUpdate says the
// setup changed, never more often than Config.CatalogInterval.

// CatalogStore shares the catalogue between the instances of walletpass
// (storage.DB is one): SecuTix's limit counts for the institution, not
// for one process.
type CatalogStore interface {
	// ClaimCatalogFetch reports whether the caller may read the catalogue
	// of key now (no one tried in the last interval) and records it; when
	// not, it says when the last attempt was.
	ClaimCatalogFetch(ctx context.Context, key string, now time.Time, interval time.Duration) (ok bool, last time.Time, err error)
	// SaveCatalog stores a getCatalogDetailed answer.
	SaveCatalog(ctx context.Context, key string, body []byte, stamp string, fetchedAt time.Time) error
	// LoadCatalog returns the stored answer; an error wrapping
	// pass.ErrNotFound when there is none.
	LoadCatalog(ctx context.Context, key string) (body []byte, stamp string, fetchedAt time.Time, err error)
	// CatalogFetchedAt returns when the stored answer was read from
	// SecuTix (without reading the answer); an error wrapping
	// pass.ErrNotFound when there is none.
	CatalogFetchedAt(ctx context.Context, key string) (time.Time, error)
}

// StoreCheckInterval is how often a client looks whether another instance
// stored a newer catalogue than its own: the instances then map orders
// with the same catalogue within about this long of one another (not a
// SecuTix call: one row of the store).
const StoreCheckInterval = time.Second

// catView is what mapping needs of the catalogue and POS config.
type catView struct {
	perfs map[int64]catEntry
	// all is the whole catalogue (season tickets list its performances);
	// now is when it was read for, to leave out what has ended.
	all      map[int64]catEntry
	now      time.Time
	pos      node
	contacts map[string]node // getContactData's answers by contactReference
}

// catEntry is a performance and the product it belongs to, as JSON nodes.
// left is when a catalogue read first lacked it (zero: the last one held
// it): such an entry still maps the orders of its performance, a refund
// say, for catalogRetention, but it is no longer upcoming.
type catEntry struct {
	product, performance node
	left                 time.Time
}

// catalogRetention is how long a performance that left the catalogue is
// remembered.
const catalogRetention = 90 * 24 * time.Hour

// retain returns next with the entries of prev it lacks, marked as left
// at now unless they had left already, less those that left more than
// catalogRetention before now.
func retain(prev, next map[int64]catEntry, now time.Time) map[int64]catEntry {
	for id, e := range prev {
		if _, ok := next[id]; ok {
			continue
		}
		if e.left.IsZero() {
			e.left = now
		}
		if now.Sub(e.left) < catalogRetention {
			next[id] = e
		}
	}
	return next
}

// catalog is a client's cache.
type catalog struct {
	mu sync.Mutex // held across the calls that refresh it
	// snap is what the cache held when mu was last released: a caller
	// whose performances are all in it need not wait for a refresh under
	// way (which may take minutes). Its maps are never changed once
	// published (a refresh makes new ones).
	snap      atomic.Pointer[catSnap]
	perfs     map[int64]catEntry
	fetched   time.Time // when the cached catalogue was read; zero: never
	attempted time.Time // this process's last getCatalogDetailed
	// othersAttempt is when another instance last claimed the read.
	othersAttempt time.Time
	stamp         string    // getLastSetupUpdate's answer when it was fetched
	checked       time.Time // the last getLastSetupUpdate
	storeChecked  time.Time // the last look for a newer stored copy
	stale         bool
	pos           node
	posKnown      bool
	fetches       int  // getCatalogDetailed calls, for tests and the probe
	noStamp       bool // a dry run: no getLastSetupUpdate
}

// catSnap is a published state of the cache.
type catSnap struct {
	perfs map[int64]catEntry
	pos   node
}

// publish makes the cache's state the one cachedView reads. Callers hold
// c.catalog.mu.
func (c *Client) publish() {
	cat := &c.catalog
	if cat.posKnown && cat.perfs != nil {
		cat.snap.Store(&catSnap{perfs: cat.perfs, pos: cat.pos})
	}
}

// cachedView is the view of perfIDs from the last published state, or nil
// when one of them is not in it.
func (c *Client) cachedView(perfIDs []int64) *catView {
	s := c.catalog.snap.Load()
	if s == nil {
		return nil
	}
	v := &catView{perfs: make(map[int64]catEntry, len(perfIDs)), all: s.perfs, now: c.cfg.Clock.Now(), pos: s.pos}
	for _, id := range perfIDs {
		e, ok := s.perfs[id]
		if !ok {
			return nil
		}
		v.perfs[id] = e
	}
	return v
}

// view returns the catalogue entries of perfIDs and the POS config,
// refreshing what it must first. A performance missing after what the
// limits allow is left out (the mapping then names it). Errors: those of
// the calls when there is nothing cached to fall back on; a
// *pass.RetryAfterError when a performance is missing and the catalogue
// may not be fetched again yet.
func (c *Client) view(ctx context.Context, perfIDs []int64) (*catView, error) {
	cat := &c.catalog
	if !cat.mu.TryLock() {
		// Another caller is at the cache, perhaps refreshing it from
		// SecuTix: what is cached serves the orders it has.
		if v := c.cachedView(perfIDs); v != nil {
			return v, nil
		}
		cat.mu.Lock()
	}
	defer cat.mu.Unlock()
	defer c.publish()
	now := c.cfg.Clock.Now()

	if !cat.posKnown {
		body, err := c.call(ctx, MethodGetPOSConfig, map[string]any{}, "")
		if err != nil {
			return nil, notFoundIsUnavailable(err)
		}
		root, err := decodeNode(body)
		if err != nil {
			return nil, malformed(MethodGetPOSConfig, err)
		}
		cat.pos, cat.posKnown = get(root, "posConfigData"), true
	}

	if c.cfg.Catalogs != nil && !cat.fetched.IsZero() && now.Sub(cat.storeChecked) >= StoreCheckInterval {
		// Another instance may have read a newer catalogue (a performance
		// moved): mapping with this one would put the old time back on
		// the passes it has rewritten.
		cat.storeChecked = now
		if at, err := c.cfg.Catalogs.CatalogFetchedAt(ctx, c.catalogKey()); err == nil && at.After(cat.fetched) {
			c.loadStored(ctx)
		}
	}
	missing := false
	for _, id := range perfIDs {
		if _, ok := cat.perfs[id]; !ok {
			missing = true
		}
	}
	if !cat.fetched.IsZero() && !missing && !cat.stale && now.Sub(cat.checked) >= c.cfg.SetupCheckInterval {
		// Ask whether the setup changed since the catalogue was fetched.
		// Its answer's shape is not documented: any change of it counts.
		if stamp, err := c.setupStamp(ctx); err == nil {
			cat.checked = now
			if stamp != cat.stamp {
				cat.stale = true
			}
		} else if c.log != nil {
			c.log.WarnContext(ctx, "secutix: getLastSetupUpdate failed; the catalogue is kept", "error", err.Error())
		}
	}
	if now.Sub(cat.fetched) >= c.cfg.CatalogMaxAge {
		cat.stale = true
	}
	need := cat.fetched.IsZero() || missing || cat.stale
	if need && c.cfg.Catalogs != nil {
		// Another instance may have read it since.
		c.loadStored(ctx)
		missing = false
		for _, id := range perfIDs {
			if _, ok := cat.perfs[id]; !ok {
				missing = true
			}
		}
		need = cat.fetched.IsZero() || missing || cat.stale
	}
	if need {
		may, wait := c.mayFetch(ctx, now)
		switch {
		case may:
			if err := c.fetchCatalog(ctx, now); err != nil {
				if missing || cat.perfs == nil {
					return nil, err
				}
				if c.log != nil {
					c.log.WarnContext(ctx, "secutix: the catalogue could not be refreshed; the cached one is used", "error", err.Error())
				}
			}
		case (missing || cat.perfs == nil) && c.readingElsewhere(now) && c.awaitStored(ctx, perfIDs):
			// Another instance was reading it: its copy has them.
		case missing || cat.perfs == nil:
			return nil, &pass.RetryAfterError{After: wait, Err: pass.Errorf(pass.KindUnavailable,
				"secutix: a performance of the order is not in the catalogue, which SecuTix lets us read again in %s",
				wait.Round(time.Second))}
		}
	}
	v := &catView{perfs: make(map[int64]catEntry, len(perfIDs)), all: cat.perfs, now: now, pos: cat.pos}
	for _, id := range perfIDs {
		if e, ok := cat.perfs[id]; ok {
			v.perfs[id] = e
		}
	}
	return v, nil
}

// catalogKey names the institution's catalogue in a CatalogStore.
func (c *Client) catalogKey() string { return c.cfg.BaseURL + "|" + c.cfg.Institution }

// mayFetch reports whether getCatalogDetailed may be called now and, if
// not, how long until it may. Callers hold c.catalog.mu.
func (c *Client) mayFetch(ctx context.Context, now time.Time) (bool, time.Duration) {
	cat := &c.catalog
	wait := c.cfg.CatalogInterval - now.Sub(cat.attempted)
	if !cat.attempted.IsZero() && wait > 0 {
		return false, wait
	}
	if c.cfg.Catalogs == nil || c.cfg.CatalogInterval < 0 {
		return true, 0
	}
	ok, last, err := c.cfg.Catalogs.ClaimCatalogFetch(ctx, c.catalogKey(), now, c.cfg.CatalogInterval)
	if err != nil {
		if c.log != nil {
			c.log.WarnContext(ctx, "secutix: the catalogue claim failed", "error", err.Error())
		}
		return false, time.Minute
	}
	if !ok {
		c.catalog.othersAttempt = last
		return false, max(c.cfg.CatalogInterval-now.Sub(last), time.Second)
	}
	return true, 0
}

// catalogWait bounds how long a client waits for the catalogue another
// instance is reading (SecuTix may take more than 30 s to answer).
const catalogWait = 60 * time.Second

// awaitStored waits, up to catalogWait or ctx's end, for a stored
// catalogue newer than the cache that holds every performance of perfIDs,
// and loads it. Callers hold c.catalog.mu.
func (c *Client) awaitStored(ctx context.Context, perfIDs []int64) bool {
	deadline := time.Now().Add(catalogWait)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	for {
		c.loadStored(ctx)
		have := c.catalog.perfs != nil
		for _, id := range perfIDs {
			if _, ok := c.catalog.perfs[id]; !ok {
				have = false
			}
		}
		if have {
			return true
		}
		if time.Now().Add(catalogPoll).After(deadline) || sleep(ctx, catalogPoll) != nil {
			return false
		}
	}
}

// readingElsewhere reports whether another instance claimed the
// catalogue's read so recently that its answer may still come. Callers
// hold c.catalog.mu.
func (c *Client) readingElsewhere(now time.Time) bool {
	at := c.catalog.othersAttempt
	return c.cfg.Catalogs != nil && !at.IsZero() && now.Sub(at) < catalogWait && at.After(c.catalog.fetched)
}

// catalogPoll is how often awaitStored looks at the store.
const catalogPoll = 250 * time.Millisecond

// loadStored replaces the cache with the store's copy when it is newer.
// Callers hold c.catalog.mu.
func (c *Client) loadStored(ctx context.Context) {
	cat := &c.catalog
	body, stamp, at, err := c.cfg.Catalogs.LoadCatalog(ctx, c.catalogKey())
	if err != nil || !at.After(cat.fetched) {
		return
	}
	root, err := decodeNode(body)
	if err != nil {
		return
	}
	cat.perfs, cat.stamp, cat.fetched, cat.checked = retain(cat.perfs, storedCatalog(root, c.cfg.Clock.Now()), at), stamp, at, at
	cat.stale = c.cfg.Clock.Now().Sub(at) >= c.cfg.CatalogMaxAge
}

// leftKey is the member of a stored catalogue answer that holds the
// performances earlier reads had and later ones lack (see retain): each
// {id, left, product, performance}. SecuTix has no such member; the store
// keeps it beside the answer, so that every instance, and the next start,
// still maps the orders of those performances (a refund of a show taken
// off sale).
const leftKey = "walletpassLeft"

// storedCatalog is the catalogue a stored answer holds: its performances,
// and those that left it less than catalogRetention before now.
func storedCatalog(root node, now time.Time) map[int64]catEntry {
	out := indexCatalog(get(root, "catalogData"))
	list, _ := get(root, leftKey).([]any)
	for _, e := range list {
		id, err := intOf(get(e, "id"))
		s, _ := get(e, "left").(string)
		left, terr := time.Parse(time.RFC3339Nano, s)
		if err != nil || id <= 0 || terr != nil || now.Sub(left) >= catalogRetention {
			continue
		}
		if _, ok := out[id]; !ok {
			out[id] = catEntry{product: get(e, "product"), performance: get(e, "performance"), left: left}
		}
	}
	return out
}

// withLeft is a getCatalogDetailed answer (a JSON object) with the
// performances of perfs that left the catalogue added under leftKey, to
// be stored; the answer itself when none has left.
func withLeft(body []byte, perfs map[int64]catEntry) []byte {
	type leftEntry struct {
		ID          int64  `json:"id"`
		Left        string `json:"left"`
		Product     node   `json:"product"`
		Performance node   `json:"performance"`
	}
	var left []leftEntry
	for _, id := range slices.Sorted(maps.Keys(perfs)) {
		if e := perfs[id]; !e.left.IsZero() {
			left = append(left, leftEntry{id, e.left.UTC().Format(time.RFC3339Nano), e.product, e.performance})
		}
	}
	trimmed := bytes.TrimSpace(body)
	if len(left) == 0 || len(trimmed) < 2 || trimmed[0] != '{' || trimmed[len(trimmed)-1] != '}' {
		return body
	}
	extra, err := json.Marshal(left)
	if err != nil {
		return body
	}
	out := make([]byte, 0, len(trimmed)+len(extra)+len(leftKey)+4)
	out = append(out, trimmed[:len(trimmed)-1]...)
	if len(bytes.TrimSpace(trimmed[1:len(trimmed)-1])) > 0 {
		out = append(out, ',')
	}
	out = append(out, '"')
	out = append(out, leftKey...)
	out = append(out, '"', ':')
	out = append(out, extra...)
	return append(out, '}')
}

// fetchCatalog calls getCatalogDetailed, replaces the cache (keeping, for
// a while, the performances it no longer holds: see retain) and stores
// the answer. Callers hold c.catalog.mu.
func (c *Client) fetchCatalog(ctx context.Context, now time.Time) error {
	cat := &c.catalog
	stamp, serr := "", errors.New("no stamp in a dry run")
	if !cat.noStamp {
		stamp, serr = c.setupStamp(ctx)
	}
	cat.fetches++
	// SecuTix counts the attempt: do not try again before the interval.
	cat.attempted = now
	req := map[string]any{}
	if c.cfg.CatalogScope != CatalogScopeNone {
		req["scope"] = c.cfg.CatalogScope
	}
	body, err := c.call(ctx, MethodGetCatalogDetailed, req, "")
	if err != nil {
		return notFoundIsUnavailable(err)
	}
	root, err := decodeNode(body)
	if err != nil {
		return malformed(MethodGetCatalogDetailed, err)
	}
	if _, ok := get(root, "catalogData").(map[string]any); !ok {
		// No catalogue at all (null, a list): not one that dropped every
		// performance. What is cached stands.
		return pass.Errorf(pass.KindUnavailable, "secutix: %s: the answer has no catalogData object", MethodGetCatalogDetailed)
	}
	prev := cat.perfs
	if prev == nil && c.cfg.Catalogs != nil {
		// A fresh process: what the store's copy holds (and the
		// performances it remembers) is what this read may have dropped.
		if stored, _, _, err := c.cfg.Catalogs.LoadCatalog(ctx, c.catalogKey()); err == nil {
			if sroot, err := decodeNode(stored); err == nil {
				prev = storedCatalog(sroot, now)
			}
		}
	}
	cat.perfs, cat.stale, cat.fetched = retain(prev, indexCatalog(get(root, "catalogData")), now), false, now
	if serr == nil {
		cat.stamp, cat.checked = stamp, now
	}
	if c.cfg.Catalogs != nil {
		if err := c.cfg.Catalogs.SaveCatalog(ctx, c.catalogKey(), withLeft(body, cat.perfs), cat.stamp, now); err != nil && c.log != nil {
			c.log.WarnContext(ctx, "secutix: the catalogue could not be stored", "error", err.Error())
		}
	}
	return nil
}

// notFoundIsUnavailable: SecuTix's "not found" for the point of sale or
// its catalogue is the institution's configuration failing, not a
// performance missing from the catalogue (which is what KindNotFound says
// to the callers of Performance).
func notFoundIsUnavailable(err error) error {
	if pass.KindOf(err) == pass.KindNotFound {
		return pass.Wrap(pass.KindUnavailable, err, "secutix: the point of sale or its catalogue is not found")
	}
	return err
}

// indexCatalog indexes catalogData's performances by id:
// seasons[].products[].event.performances[] (products directly under
// catalogData are read too).
func indexCatalog(data node) map[int64]catEntry {
	out := make(map[int64]catEntry)
	addProducts := func(products node) {
		list, _ := products.([]any)
		for _, p := range list {
			perfs, _ := get(get(p, "event"), "performances").([]any)
			for _, perf := range perfs {
				if id, err := intOf(get(perf, "id")); err == nil && id > 0 {
					out[id] = catEntry{product: p, performance: perf}
				}
			}
		}
	}
	seasons, _ := get(data, "seasons").([]any)
	for _, s := range seasons {
		addProducts(get(s, "products"))
	}
	addProducts(get(data, "products"))
	return out
}

// setupStamp is getLastSetupUpdate's answer without its status part, as
// canonical JSON.
func (c *Client) setupStamp(ctx context.Context) (string, error) {
	body, err := c.call(ctx, MethodGetLastSetupUpdate, map[string]any{}, "")
	if err != nil {
		return "", err
	}
	root, err := decodeNode(body)
	if err != nil {
		return "", malformed(MethodGetLastSetupUpdate, err)
	}
	m, _ := root.(map[string]any)
	m = maps.Clone(m)
	for _, k := range []string{"requestId", "statusCode", "statusDetail", "statusMessage"} {
		delete(m, k)
	}
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(m); err != nil { // map keys are sorted
		return "", fmt.Errorf("encode: %w", err)
	}
	return b.String(), nil
}

// CatalogFetches returns how many times the client called
// getCatalogDetailed.
func (c *Client) CatalogFetches() int {
	c.catalog.mu.Lock()
	defer c.catalog.mu.Unlock()
	return c.catalog.fetches
}
