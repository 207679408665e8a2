package storage

import (
	"context"
	"database/sql"
	"time"

	"walletpass/pass"
)

// InTx runs fn in a transaction of s, as the store's methods do.
func InTx(ctx context.Context, s *DB, fn func(*sql.Tx) error) error { return s.inTx(ctx, fn) }

// GroupCommit commits fns as one batch of the store's group committer and
// returns each one's error.
func GroupCommit(s *DB, fns ...func(ctx context.Context, tx *sql.Tx) error) []error {
	batch := make([]writeReq, len(fns))
	for i, fn := range fns {
		batch[i] = writeReq{done: make(chan writeResult, 1), fn: func(ctx context.Context, tx *sql.Tx) (pass.Enqueued, error) {
			return pass.Enqueued{}, fn(ctx, tx)
		}}
	}
	s.group.commit(batch)
	errs := make([]error, len(fns))
	for i, r := range batch {
		errs[i] = (<-r.done).err
	}
	return errs
}

// Renumber is renumber.
var Renumber = renumber

// QuotaTakeAt is q.Take, returning the database's time of the grant.
func QuotaTakeAt(ctx context.Context, q *SecuTixQuota, key string, prio pass.Priority) (time.Time, error) {
	ms, err := q.take(ctx, key, prio)
	return time.UnixMilli(ms), err
}

// QuotaPolls makes q's waiters look again at least every d (instead of
// every 2 s), so that tests that change the tables under them run fast.
func QuotaPolls(q *SecuTixQuota, d time.Duration) { q.maxSleep = d }

// QuotaWaiters returns how many rows key has in secutix_waiters, live or
// expired.
func QuotaWaiters(ctx context.Context, s *DB, key string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM secutix_waiters WHERE key = $1`, key).Scan(&n)
	return n, err
}

// QuotaForget deletes the calls counted on key, as if its window had
// passed.
func QuotaForget(ctx context.Context, s *DB, key string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM secutix_calls WHERE key = $1`, key)
	return err
}

// QuotaPausedUntil returns the end of key's pause, on the database's clock.
func QuotaPausedUntil(ctx context.Context, s *DB, key string) (time.Time, error) {
	var ms int64
	err := s.db.QueryRowContext(ctx, `SELECT paused_until FROM secutix_quota WHERE key = $1`, key).Scan(&ms)
	return time.UnixMilli(ms), err
}

// QuotaAbandonedWaiter writes the row of a waiter at prio on key that will
// never come back (its instance died), live for ttl, and returns when it
// expires on the database's clock.
func QuotaAbandonedWaiter(ctx context.Context, s *DB, key string, prio pass.Priority, ttl time.Duration) (time.Time, error) {
	var ms int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO secutix_waiters (key, id, priority, expires_at)
		VALUES ($1, $2, $3, `+sqlClockMillis+` + $4) RETURNING expires_at`, key, newID(), int(prio), ttl.Milliseconds()).Scan(&ms)
	return time.UnixMilli(ms), err
}

// ForgetBarcodes empties passes.barcode, as for passes stored before the
// column, and BackfillBarcodes fills it as a start does.
func (s *DB) ForgetBarcodes(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, `UPDATE passes SET barcode = ''`)
	return err
}

func (s *DB) BackfillBarcodes(ctx context.Context) error { return s.backfillBarcodes(ctx) }

// The webhook deliveries' statements, for their query plans.
const (
	PendingMessagesSQL = `SELECT ` + messageColumns + ` FROM webhook_messages ` + pendingMessagesWhere
	PendingStreamSQL   = `SELECT ` + messageColumns + ` FROM webhook_messages ` + pendingStreamWhere
)

// MarkDeliveredSQL is the statement that marks n messages delivered.
var MarkDeliveredSQL = markDeliveredSQL

// The two updates of a pass's row, and the lookups by movement.
const (
	UpdateSameIdentitySQL = updateSameIdentity
	UpdateWholeSQL        = updateWhole
	UpdatePassesPostgres  = updatePassesPostgres
	MarkPushedPostgresSQL = markPushedPostgresSQL
	PassByIdentitySQL     = passByIdentitySQL
	LatestPassSQL         = latestPassSQL
)

// FirstStatisticsRows is how many rows FirstStatistics waits for.
const FirstStatisticsRows = firstStatisticsRows
