package secutix

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"walletpass/pass"
)

// Quota decides when a call to SecuTix may go out. key names an
// institution's service ("MOSA/externalOrderService"): SecuTix counts its
// quota per institution and service, all the service's methods together.
//
// Every implementation keeps these rules, per key:
//
//   - Sliding window: at most limit calls go out in any interval of the
//     window's length (both are the implementation's settings). The
//     client's defaults are 60 calls and 61 s: one second more than
//     SecuTix's minute, so that network jitter cannot put 61 calls in one
//     minute as SecuTix's clock sees them, however SecuTix cuts its
//     minutes.
//   - Strict priority: a call does not go while a call of higher priority
//     (pass.Priority) is waiting; calls of equal priority go roughly in the
//     order they came.
//   - Spacing: once a twelfth of the limit was used in the window (5 of
//     60), calls go at least window/limit apart (one per 1.02 s by
//     default). Bursts would fill the window at once and then let nothing
//     through for most of a window: a buyer arriving then would wait up to
//     a minute; spaced, it waits about one spacing (at worst 5 s, once,
//     when the first burst leaves the window), and the rate over a window
//     is the same. Below that, calls go at once.
//   - Pause: after Pause(key, until), no call goes before until.
//
// LocalQuota keeps them in one process; the storage package keeps them in
// PostgreSQL for every instance sharing the database.
type Quota interface {
	// Take blocks until one call on key may go out now at priority prio,
	// and counts it. It returns an error wrapping ctx's error when ctx ends
	// first, and fails at once with an error wrapping
	// context.DeadlineExceeded when ctx's deadline comes before the call
	// could go. An implementation that keeps its counts elsewhere may also
	// fail when it cannot reach them.
	Take(ctx context.Context, key string, prio pass.Priority) error
	// Pause stops every call on key until until (SecuTix answered 509 or
	// 429 anyway). A pause never shortens an earlier, longer one.
	Pause(ctx context.Context, key string, until time.Time) error
}

// DefaultQuotaWindow is the window of the default Quota: SecuTix's minute
// and one second of margin for network jitter.
const DefaultQuotaWindow = 61 * time.Second

// QuotaBoundAfter is how long a Take waits before the quota is logged as
// what bounds the calls ("secutix quota-bound", at most once per key per
// minute).
const QuotaBoundAfter = 5 * time.Second

// LocalQuota is a Quota kept in this process: exact, for one instance (the
// SQLite deployment) and for tests. Waiters sleep until a timer or a grant
// wakes them; nothing polls. It is safe for concurrent use.
type LocalQuota struct {
	limit  int
	window time.Duration
	log    *slog.Logger

	mu   sync.Mutex
	keys map[string]*localKey
}

// localKey is the state of one key.
type localKey struct {
	window  time.Duration
	limit   int         // grants per window
	grants  []time.Time // the last limit grants, a ring once full (grown as calls come, not allocated up front)
	oldest  int         // index of the oldest grant once the ring is full
	paused  time.Time
	waiters []*localWaiter // highest priority first, then by arrival
	timer   *time.Timer    // wakes the queue when the next call may go
	logged  time.Time      // when "quota-bound" was last logged
}

type localWaiter struct {
	prio    pass.Priority
	ready   chan struct{} // closed once granted
	granted time.Time
	waiting int // the waiters left behind when granted
}

var _ Quota = (*LocalQuota)(nil)

// NewLocalQuota returns a LocalQuota that lets at most limit calls per key
// go out in any interval of length window. A limit or window that is not
// positive means DefaultRequestsPerMinute or DefaultQuotaWindow. log
// receives the "secutix quota-bound" notices; nil discards them.
func NewLocalQuota(limit int, window time.Duration, log *slog.Logger) *LocalQuota {
	if limit <= 0 {
		limit = DefaultRequestsPerMinute
	}
	if window <= 0 {
		window = DefaultQuotaWindow
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &LocalQuota{limit: limit, window: window, log: log, keys: make(map[string]*localKey)}
}

// Take blocks until one call on key may go out now at priority prio, and
// counts it (see Quota). It returns an error wrapping ctx's error when ctx
// ends first, and fails at once with an error wrapping
// context.DeadlineExceeded when ctx's deadline comes before the window has
// room or the pause ends.
func (q *LocalQuota) Take(ctx context.Context, key string, prio pass.Priority) error {
	_, err := q.take(ctx, key, prio)
	return err
}

// take is Take, returning the time of the grant.
func (q *LocalQuota) take(ctx context.Context, key string, prio pass.Priority) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, fmt.Errorf("secutix: quota %s: %w", key, err)
	}
	start := time.Now()
	w := &localWaiter{prio: prio, ready: make(chan struct{})}
	q.mu.Lock()
	k := q.key(key)
	k.enqueue(w)
	q.grant(k, start)
	if w.granted.IsZero() {
		if dl, ok := ctx.Deadline(); ok {
			if next := k.nextAt(start); next.After(dl) {
				k.remove(w)
				q.grant(k, start) // stops the timer if nobody waits
				q.mu.Unlock()
				return time.Time{}, fmt.Errorf("secutix: quota %s: the next call may go in %s, after the deadline: %w",
					key, next.Sub(start).Round(time.Millisecond), pass.ErrPastDeadline)
			}
		}
	}
	q.mu.Unlock()

	select {
	case <-w.ready:
	case <-ctx.Done():
		q.mu.Lock()
		if w.granted.IsZero() {
			k.remove(w)
			q.grant(k, time.Now())
			q.mu.Unlock()
			return time.Time{}, fmt.Errorf("secutix: quota %s: %w", key, ctx.Err())
		}
		q.mu.Unlock() // granted meanwhile: the call may go
	}
	if waited := w.granted.Sub(start); waited > QuotaBoundAfter {
		q.mu.Lock()
		log := w.granted.Sub(k.logged) >= time.Minute
		if log {
			k.logged = w.granted
		}
		q.mu.Unlock()
		if log {
			q.log.Info("secutix quota-bound", slog.String("key", key), slog.String("priority", prio.String()),
				slog.Int("waiters", w.waiting), slog.Duration("wait", waited))
		}
	}
	return w.granted, nil
}

// Pause stops every call on key until until; a shorter pause does not
// end a longer one. It never fails.
func (q *LocalQuota) Pause(_ context.Context, key string, until time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := q.key(key)
	if until.After(k.paused) {
		k.paused = until
	}
	q.grant(k, time.Now())
	return nil
}

// key returns the state of key, made on first use. q.mu is held.
func (q *LocalQuota) key(key string) *localKey {
	k := q.keys[key]
	if k == nil {
		k = &localKey{window: q.window, limit: q.limit}
		q.keys[key] = k
	}
	return k
}

// grant lets the waiters of k go, in their order, while the window and the
// pause allow it at now, then sets k's timer for the next time a call may
// go (or stops it when nobody waits). q.mu is held.
func (q *LocalQuota) grant(k *localKey, now time.Time) {
	for len(k.waiters) > 0 {
		if next := k.nextAt(now); next.After(now) {
			d := next.Sub(now)
			if k.timer == nil {
				k.timer = time.AfterFunc(d, func() {
					q.mu.Lock()
					defer q.mu.Unlock()
					q.grant(k, time.Now())
				})
			} else {
				k.timer.Reset(d)
			}
			return
		}
		w := k.waiters[0]
		k.waiters[0] = nil
		k.waiters = k.waiters[1:]
		k.record(now)
		w.granted, w.waiting = now, len(k.waiters)
		close(w.ready)
	}
	if k.timer != nil {
		k.timer.Stop()
	}
}

// nextAt is the earliest time a call on k may go: the end of its pause or
// the time its oldest counted grant leaves the window or, once
// spacedAfter grants are in the window, one spacing after its newest
// grant, whichever is latest.
func (k *localKey) nextAt(now time.Time) time.Time {
	next := k.paused
	n := len(k.grants)
	if n == k.limit {
		if at := k.grants[k.oldest].Add(k.window); at.After(next) {
			next = at
		}
	}
	inWindow := 0
	for _, g := range k.grants {
		if g.After(now.Add(-k.window)) {
			inWindow++
		}
	}
	if n > 0 && inWindow >= spacedAfter(k.limit) {
		// Calls are spaced (see Quota).
		newest := k.grants[n-1]
		if n == k.limit {
			newest = k.grants[(k.oldest+n-1)%n]
		}
		if at := newest.Add(k.window / time.Duration(k.limit)); at.After(next) {
			next = at
		}
	}
	return next
}

// DrainTime is how long calls calls take under a quota of limit per
// window that is free now: spacedAfter(limit) at once, then one per
// window/limit. It is what a tenant's backlog of syncs will take when
// each costs one call.
func DrainTime(calls, limit int, window time.Duration) time.Duration {
	if limit <= 0 {
		limit = DefaultRequestsPerMinute
	}
	if window <= 0 {
		window = DefaultQuotaWindow
	}
	return time.Duration(max(0, calls-spacedAfter(limit))) * window / time.Duration(limit)
}

// spacedAfter is how many calls in a window go at once before the
// following ones are spaced by window/limit: a twelfth of the limit, at
// least one.
func spacedAfter(limit int) int { return max(1, limit/12) }

// record counts a grant at now.
func (k *localKey) record(now time.Time) {
	if len(k.grants) < k.limit {
		k.grants = append(k.grants, now)
		return
	}
	k.grants[k.oldest] = now
	k.oldest = (k.oldest + 1) % len(k.grants)
}

// enqueue adds w behind the waiters of its priority or higher.
func (k *localKey) enqueue(w *localWaiter) {
	i := len(k.waiters)
	for i > 0 && k.waiters[i-1].prio < w.prio {
		i--
	}
	k.waiters = append(k.waiters, nil)
	copy(k.waiters[i+1:], k.waiters[i:])
	k.waiters[i] = w
}

// remove drops w from the waiters.
func (k *localKey) remove(w *localWaiter) {
	for i, x := range k.waiters {
		if x == w {
			k.waiters = append(k.waiters[:i], k.waiters[i+1:]...)
			return
		}
	}
}

// QuotaUsage is a Quota that can tell how much of it is in use.
type QuotaUsage interface {
	// Usage returns, over the keys that start with prefix (an
	// institution's services: "MOSA/"), the most calls one of them made
	// in the last window, and the latest end of a pause among them.
	Usage(ctx context.Context, prefix string) (calls int, pausedUntil time.Time, err error)
}

var _ QuotaUsage = (*LocalQuota)(nil)

// Usage implements QuotaUsage.
func (q *LocalQuota) Usage(_ context.Context, prefix string) (int, time.Time, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	most, paused := 0, time.Time{}
	for name, k := range q.keys {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		n := 0
		for _, g := range k.grants {
			if now.Sub(g) < k.window {
				n++
			}
		}
		most = max(most, n)
		if k.paused.After(now) && k.paused.After(paused) {
			paused = k.paused
		}
	}
	return most, paused, nil
}
