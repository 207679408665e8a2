package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"walletpass/pass"
)

// How a SecuTixQuota waits.
const (
	// quotaWaiterTTL is how long a waiter's row holds lower priorities back
	// unless refreshed: the row of an instance that died stops counting
	// after it.
	quotaWaiterTTL = 5 * time.Second
	// quotaMaxSleep is the longest a waiter sleeps between two looks; it
	// refreshes its row at each, well within quotaWaiterTTL.
	quotaMaxSleep = 2 * time.Second
	// quotaPriorityPoll is the sleep of a waiter that has room but lets a
	// waiter ahead of it go first; quotaJitter is added to every sleep so
	// that the waiters of several instances do not all look at once.
	quotaPriorityPoll = 100 * time.Millisecond
	quotaJitter       = 50 * time.Millisecond
	// quotaBoundAfter is how long a Take waits before it is logged
	// ("secutix quota-bound", at most once per key per minute).
	quotaBoundAfter = 5 * time.Second
)

// SecuTixQuota is SecuTix's quota kept in PostgreSQL, so that every
// instance sharing the database counts the same calls. It has the methods
// of the secutix package's Quota interface, whose rules it keeps:
//
//   - sliding window: at most limit calls on a key in any interval of
//     length window. Each call is a row of secutix_calls, stamped with the
//     database's clock (so that instances whose clocks disagree count
//     alike), written in the transaction that holds the key's row of
//     secutix_quota FOR UPDATE: calls on one key are counted one at a
//     time, whichever instance makes them;
//   - strict priority: a call that must wait keeps a row in
//     secutix_waiters, refreshed while it waits and deleted when it goes
//     or gives up; a call does not go while a live row of higher priority
//     (or of equal priority, made earlier) is there. A row whose waiter
//     died expires after a few seconds;
//   - pause: secutix_quota.paused_until, which only grows.
//
// Waiters poll: each sleeps until the window should have room or the pause
// ends (at most 2 s, to refresh its row), or about 100 ms while a waiter
// ahead takes the room, plus up to 50 ms of jitter. It is safe for
// concurrent use.
type SecuTixQuota struct {
	s        *DB
	limit    int
	window   time.Duration
	log      *slog.Logger
	maxSleep time.Duration

	mu     sync.Mutex
	logged map[string]time.Time // when "quota-bound" was last logged, per key
}

// SecuTixQuota returns the SecuTix quota that every instance on s's
// PostgreSQL schema shares: at most limit calls per key in any interval of
// length window (at least a millisecond). log receives the "secutix
// quota-bound" notices; nil discards them. It returns an error of kind
// pass.KindInvalid on SQLite, where one process owns the database and
// keeps the quota in memory (secutix.LocalQuota), and for a limit or
// window out of range.
func (s *DB) SecuTixQuota(limit int, window time.Duration, log *slog.Logger) (*SecuTixQuota, error) {
	if !s.isPostgres() {
		return nil, pass.Errorf(pass.KindInvalid, "storage: the shared SecuTix quota needs PostgreSQL; on SQLite one process keeps it")
	}
	if limit <= 0 || window < time.Millisecond {
		return nil, pass.Errorf(pass.KindInvalid, "storage: SecuTix quota: %d calls in %s is not a quota", limit, window)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &SecuTixQuota{s: s, limit: limit, window: window, log: log, maxSleep: quotaMaxSleep,
		logged: make(map[string]time.Time)}, nil
}

// Take blocks until one call on key may go out now at priority prio, and
// counts it. It returns an error wrapping ctx's error when ctx ends first,
// fails at once with an error wrapping context.DeadlineExceeded when ctx's
// deadline comes before the window has room or the pause ends, and returns
// the database's errors.
func (q *SecuTixQuota) Take(ctx context.Context, key string, prio pass.Priority) error {
	_, err := q.take(ctx, key, prio)
	return err
}

// quotaLook is what one look at a key found (times are the database's
// clock, Unix milliseconds).
type quotaLook struct {
	granted bool
	now     int64
	free    int64 // when the window has room and the pause is over
	waiters int   // the other calls waiting
}

// take is Take, returning the database's time of the grant.
func (q *SecuTixQuota) take(ctx context.Context, key string, prio pass.Priority) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("storage: secutix quota %s: %w", key, err)
	}
	id := newID()
	start := time.Now()
	registered := false // our row in secutix_waiters may exist
	for {
		// A look is not cut short by ctx: a transaction cancelled while
		// it commits could leave our waiter row behind after leave
		// deleted it. It takes milliseconds; ctx is checked after it.
		var l quotaLook
		lctx, lcancel := context.WithTimeout(context.WithoutCancel(ctx), quotaLookTimeout)
		err := q.s.inTx(lctx, func(tx *sql.Tx) error {
			var err error
			l, err = q.look(lctx, tx, key, id, prio)
			return err
		})
		lcancel()
		if err == nil && ctx.Err() != nil && !l.granted {
			q.leave(ctx, key, id)
			return 0, fmt.Errorf("storage: secutix quota %s: %w", key, ctx.Err())
		}
		if err != nil {
			if registered {
				q.leave(ctx, key, id)
			}
			return 0, fmt.Errorf("storage: secutix quota %s: %w", key, err)
		}
		if l.granted {
			q.bound(key, prio, l.waiters, time.Since(start))
			return l.now, nil
		}
		registered = true
		sleep := quotaPriorityPoll
		if l.free > l.now {
			wait := time.Duration(l.free-l.now) * time.Millisecond
			if dl, ok := ctx.Deadline(); ok && time.Now().Add(wait).After(dl) {
				q.leave(ctx, key, id)
				return 0, fmt.Errorf("storage: secutix quota %s: the next call may go in %s, after the deadline: %w",
					key, wait, pass.ErrPastDeadline)
			}
			sleep = min(wait, q.maxSleep)
		}
		t := time.NewTimer(sleep + rand.N(quotaJitter))
		select {
		case <-ctx.Done():
			t.Stop()
			q.leave(ctx, key, id)
			return 0, fmt.Errorf("storage: secutix quota %s: %w", key, ctx.Err())
		case <-t.C:
		}
	}
}

// The database's clock in Unix milliseconds.
const sqlClockMillis = `CAST(floor(extract(epoch FROM clock_timestamp()) * 1000) AS BIGINT)`

// Statements of a look at a key, once its secutix_quota row is locked (so
// that clock_timestamp() is read after the lock: calls on a key get
// increasing times).
const (
	// $1 key, $2 window (ms), $3 the waiter's id, $4 its priority: the
	// clock, the calls in the window, the oldest of them, the other live
	// waiters, and whether one of them goes first.
	sqlQuotaLook = `WITH clock AS (SELECT ` + sqlClockMillis + ` AS now)
		SELECT clock.now,
			(SELECT count(*) FROM secutix_calls c WHERE c.key = $1 AND c.at > clock.now - $2),
			(SELECT COALESCE(min(c.at), 0) FROM secutix_calls c WHERE c.key = $1 AND c.at > clock.now - $2),
			(SELECT COALESCE(max(c.at), 0) FROM secutix_calls c WHERE c.key = $1 AND c.at > clock.now - $2),
			(SELECT count(*) FROM secutix_waiters w WHERE w.key = $1 AND w.id <> $3 AND w.expires_at > clock.now),
			EXISTS (SELECT 1 FROM secutix_waiters w WHERE w.key = $1 AND w.id <> $3 AND w.expires_at > clock.now
				AND (w.priority > $4 OR (w.priority = $4 AND w.id < $3)))
		FROM clock`
	// $1 key, $2 now, $3 the waiter's id, $4 the window's start: record
	// the call, forget the calls out of the window and the waiter (and
	// the expired waiters).
	sqlQuotaGrant = `WITH old_calls AS (DELETE FROM secutix_calls WHERE key = $1 AND at <= $4),
		old_waiters AS (DELETE FROM secutix_waiters WHERE key = $1 AND (id = $3 OR expires_at <= $2))
		INSERT INTO secutix_calls (key, at) VALUES ($1, $2)`
	// $1 key, $2 the waiter's id, $3 its priority, $4 its row's expiry,
	// $5 now, $6 the window's start: write or refresh the waiter's row,
	// and forget the calls out of the window and the expired waiters.
	sqlQuotaWait = `WITH old_calls AS (DELETE FROM secutix_calls WHERE key = $1 AND at <= $6),
		old_waiters AS (DELETE FROM secutix_waiters WHERE key = $1 AND id <> $2 AND expires_at <= $5)
		INSERT INTO secutix_waiters (key, id, priority, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (key, id) DO UPDATE SET expires_at = excluded.expires_at`
)

// look locks key's row, and either counts a call (granted) or writes the
// waiter's row and says when to look again.
func (q *SecuTixQuota) look(ctx context.Context, tx *sql.Tx, key, id string, prio pass.Priority) (quotaLook, error) {
	var l quotaLook
	const lock = `SELECT paused_until FROM secutix_quota WHERE key = $1 FOR UPDATE`
	var paused int64
	err := tx.QueryRowContext(ctx, lock, key).Scan(&paused)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO secutix_quota (key) VALUES ($1) ON CONFLICT (key) DO NOTHING`, key); err != nil {
			return l, err
		}
		err = tx.QueryRowContext(ctx, lock, key).Scan(&paused)
	}
	if err != nil {
		return l, err
	}
	window := q.window.Milliseconds()
	var calls int
	var oldest, newest int64
	var ahead bool
	if err := tx.QueryRowContext(ctx, sqlQuotaLook, key, window, id, int(prio)).Scan(&l.now, &calls, &oldest, &newest, &l.waiters, &ahead); err != nil {
		return l, err
	}
	l.free = paused
	if calls >= q.limit {
		l.free = max(l.free, oldest+window)
	}
	if newest > 0 && calls >= max(1, q.limit/12) {
		// Calls are spaced by window/limit once a twelfth of the limit
		// is used: a steady stream rather than bursts followed by
		// silence, so that a buyer's call waits about one spacing (see
		// secutix.Quota).
		l.free = max(l.free, newest+window/int64(q.limit))
	}
	if l.free <= l.now && !ahead {
		l.granted = true
		_, err := tx.ExecContext(ctx, sqlQuotaGrant, key, l.now, id, l.now-window)
		return l, err
	}
	_, err = tx.ExecContext(ctx, sqlQuotaWait, key, id, int(prio), l.now+quotaWaiterTTL.Milliseconds(), l.now, l.now-window)
	return l, err
}

// quotaLookTimeout bounds one look at a key.
const quotaLookTimeout = 10 * time.Second

// leave deletes the waiter's row, even when ctx has ended. If that fails
// the row expires.
func (q *SecuTixQuota) leave(ctx context.Context, key, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_, _ = q.s.db.ExecContext(ctx, `DELETE FROM secutix_waiters WHERE key = $1 AND id = $2`, key, id)
}

// bound logs a Take that waited more than quotaBoundAfter, at most once
// per key per minute (in this instance).
func (q *SecuTixQuota) bound(key string, prio pass.Priority, waiters int, waited time.Duration) {
	if waited <= quotaBoundAfter {
		return
	}
	now := time.Now()
	q.mu.Lock()
	log := now.Sub(q.logged[key]) >= time.Minute
	if log {
		q.logged[key] = now
	}
	q.mu.Unlock()
	if log {
		q.log.Info("secutix quota-bound", slog.String("key", key), slog.String("priority", prio.String()),
			slog.Int("waiters", waiters), slog.Duration("wait", waited))
	}
}

// Pause stops every call on key, from every instance, until until (the
// time is carried over to the database's clock). A pause never shortens
// an earlier, longer one. It returns the database's errors.
func (q *SecuTixQuota) Pause(ctx context.Context, key string, until time.Time) error {
	d := time.Until(until)
	if d <= 0 {
		return nil
	}
	ms := (d + time.Millisecond - 1).Milliseconds()
	_, err := q.s.db.ExecContext(ctx, `INSERT INTO secutix_quota (key, paused_until) VALUES ($1, `+sqlClockMillis+` + $2)
		ON CONFLICT (key) DO UPDATE SET paused_until = GREATEST(secutix_quota.paused_until, excluded.paused_until)`, key, ms)
	if err != nil {
		return fmt.Errorf("storage: secutix quota %s: pause: %w", key, err)
	}
	return nil
}

// Usage returns, over the keys that start with prefix, the most calls one
// of them made in the last window, and the latest end of a pause among
// them (secutix.QuotaUsage).
func (q *SecuTixQuota) Usage(ctx context.Context, prefix string) (int, time.Time, error) {
	var calls, paused int64
	err := q.s.rdb.QueryRowContext(ctx, `WITH clock AS (SELECT `+sqlClockMillis+` AS now)
		SELECT COALESCE((SELECT max(n) FROM (SELECT count(*) AS n FROM secutix_calls c, clock
			WHERE substr(c.key, 1, length($1)) = $1 AND c.at > clock.now - $2 GROUP BY c.key) k), 0),
		COALESCE((SELECT max(paused_until) FROM secutix_quota q, clock
			WHERE substr(q.key, 1, length($1)) = $1 AND q.paused_until > clock.now), 0)`,
		prefix, q.window.Milliseconds()).Scan(&calls, &paused)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("storage: quota usage: %w", err)
	}
	var until time.Time
	if paused > 0 {
		until = time.UnixMilli(paused).UTC()
	}
	return int(calls), until, nil
}
