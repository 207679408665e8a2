package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// The PostgreSQL pool: every instance writes through its own transactions,
// so the pool is sized for many writers at once.
const (
	pgMaxOpenConns = 20
	pgMaxIdleConns = 10
)

// tasksChannel is the PostgreSQL notification channel that announces new
// or newly due tasks to every instance's dispatcher. Channels are per
// database, so the payload names the schema, and listeners ignore other
// schemas' notifications.
const tasksChannel = "walletpass_tasks"

// pgIdleInTransaction is how long PostgreSQL lets one of our sessions sit
// idle inside a transaction before ending it (milliseconds).
const pgIdleInTransaction = "60000"

// OpenPostgres connects to the PostgreSQL database of dsn (a URL or a
// keyword/value string, as pgx parses them; a search_path parameter picks
// the schema) and applies pending migrations. Several instances may share
// the database: each writes in its own transactions, tasks are claimed
// with FOR UPDATE SKIP LOCKED, and migrations run under a session advisory
// lock, so instances starting together migrate one at a time.
//
// Nothing is cached in the process (other instances write too), and every
// transaction that enqueues or re-queues a task notifies the channel that
// ListenTasks listens on.
func OpenPostgres(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("storage: postgres: %w", err)
	}
	// No transaction of the store waits on anything but the database: one
	// idle longer than this is an instance cut off mid-transaction, whose
	// row locks would otherwise stall every other instance's writes to
	// those rows until TCP gives up on it (hours). The DSN may set another.
	if _, set := cfg.RuntimeParams["idle_in_transaction_session_timeout"]; !set {
		cfg.RuntimeParams["idle_in_transaction_session_timeout"] = pgIdleInTransaction
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(pgMaxOpenConns)
	db.SetMaxIdleConns(pgMaxIdleConns)
	s := &DB{db: db, rdb: db, dialect: goose.DialectPostgres, pg: cfg}
	var schema sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("storage: postgres: %w", err)
	}
	if !schema.Valid {
		db.Close()
		return nil, errors.New("storage: postgres: the search_path names no existing schema")
	}
	s.schema = schema.String
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if s.passMeta, err = db.PrepareContext(ctx, sqlPassMeta); err != nil {
		db.Close()
		return nil, fmt.Errorf("storage: prepare: %w", err)
	}
	// Webhooks and the queue's small writes are group-committed here too:
	// one synchronous commit per webhook would cap an instance at the
	// disk's commit rate. A batch that fails (a deadlock with another
	// instance) is retried one write at a time. The writes' task
	// notifications become one per commit.
	s.group = newGroupCommitter(db, nil, s.sendNotify)
	return s, nil
}

// isPostgres says whether s is a PostgreSQL store.
func (s *DB) isPostgres() bool { return s.pg != nil }

// lockKey returns the advisory lock key of name in s's schema: advisory
// locks are per database, and each schema is a deployment of its own.
func (s *DB) lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("walletpass\x00" + s.schema + "\x00" + name))
	return int64(h.Sum64())
}

// lockInTx takes the lock of name for the rest of tx, so that a count and
// the insert it allows are one step for the transactions that take it:
// on PostgreSQL a transaction advisory lock (at READ COMMITTED two
// transactions counting at once would both see room); on SQLite nothing,
// since every transaction takes the database's write lock as it begins.
func (s *DB) lockInTx(ctx context.Context, tx *sql.Tx, name string) error {
	if !s.isPostgres() {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, s.lockKey(name))
	return err
}

// migrationLocker serializes the migrations of the instances sharing s's
// schema, trying every second for up to five minutes.
func (s *DB) migrationLocker() (lock.SessionLocker, error) {
	return lock.NewPostgresSessionLocker(lock.WithLockID(s.lockKey("migrate")), lock.WithLockTimeout(1, 300))
}

// NotifyTasks tells the dispatchers of every instance sharing the database
// schema (ListenTasks) to look for due tasks: it sends a notification on
// the channel walletpass_tasks with the schema's name as payload. The store already notifies in every
// transaction that enqueues a task or makes one due (RecordWebhook,
// Enqueue, CreatePass and UpdatePass when they queue work, Complete with a
// follow-up run, Release, RetryTask): PostgreSQL delivers the notification when the
// transaction commits, and not at all if it rolls back. NotifyTasks is for
// callers that change tasks some other way. On SQLite, where this process
// is the only writer, the listeners are in this process and are told at
// once.
func (s *DB) NotifyTasks(ctx context.Context) error {
	if !s.isPostgres() {
		s.local.wake()
		return nil
	}
	if _, err := s.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, tasksChannel, s.schema); err != nil {
		return fmt.Errorf("storage: notify tasks: %w", err)
	}
	return nil
}

// notifyTx queues the tasks notification in tx. PostgreSQL folds
// identical notifications of one transaction into one. On SQLite it wakes
// this process's listeners now: their claims go through the one writer
// connection, so they see the task once tx commits.
func (s *DB) notifyTx(ctx context.Context, tx *sql.Tx) error {
	if !s.isPostgres() {
		s.local.wake()
		return nil
	}
	if deferNotify(ctx) {
		return nil // in a group commit: sent once before it commits
	}
	return s.sendNotify(ctx, tx)
}

// sendNotify queues the tasks notification in tx.
func (s *DB) sendNotify(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, tasksChannel, s.schema); err != nil {
		return fmt.Errorf("storage: notify tasks: %w", err)
	}
	return nil
}

// Reconnection delays of ListenTasks: doubled after each failure, reset
// once a connection listens.
const (
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 10 * time.Second
)

// ListenTasks calls wake for every task notification of its schema (see
// NotifyTasks) until ctx ends, then returns nil. It listens on a connection of its own
// (outside the pool) and, when that connection fails, reconnects with
// exponential backoff (100 ms doubling to 10 s); after a reconnection it
// calls wake once, since notifications sent meanwhile were lost. It
// returns an error only when the server refuses the connection settings
// (authentication, database, privileges), which retrying cannot mend.
//
// On SQLite, where this process is the only writer, wake is called in
// process whenever a transaction enqueues a task or makes one due, until
// ctx ends. wake must not block.
func (s *DB) ListenTasks(ctx context.Context, wake func()) error {
	if !s.isPostgres() {
		stop := s.local.add(wake)
		<-ctx.Done()
		stop()
		return nil
	}
	backoff := listenMinBackoff
	for reconnect := false; ; reconnect = true {
		listened, err := s.listen(ctx, wake, reconnect)
		if ctx.Err() != nil {
			return nil
		}
		if permanent(err) {
			return fmt.Errorf("storage: listen for tasks: %w", err)
		}
		if listened {
			backoff = listenMinBackoff
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, listenMaxBackoff)
	}
}

// permanent says whether err is the server refusing the connection
// settings: invalid authorization (class 28), an unknown database or a
// missing privilege.
func permanent(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return strings.HasPrefix(pgErr.Code, "28") || pgErr.Code == "3D000" || pgErr.Code == "42501"
}

// listen connects, listens and wakes on each notification until the
// connection fails or ctx ends. listened says whether it got as far as
// listening.
func (s *DB) listen(ctx context.Context, wake func(), reconnect bool) (listened bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, s.pg.Copy())
	if err != nil {
		return false, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+tasksChannel); err != nil {
		return false, err
	}
	if reconnect {
		wake()
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		if n.Payload == s.schema {
			wake()
		}
	}
}

// ClockOffset returns how far the database server's clock is ahead of
// this process's (negative: behind), by one query, and the measurement's
// uncertainty (half its round trip). Instances that share a PostgreSQL
// database compare times each of them stamped (pass.ReadSkew): each
// instance's offset from the server bounds their differences. On SQLite,
// where one process owns the database, both are zero.
func (s *DB) ClockOffset(ctx context.Context) (offset, uncertainty time.Duration, err error) {
	if !s.isPostgres() {
		return 0, 0, nil
	}
	var micros int64
	before := time.Now()
	err = s.rdb.QueryRowContext(ctx, `SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint`).Scan(&micros)
	after := time.Now()
	if err != nil {
		return 0, 0, fmt.Errorf("storage: the server's clock: %w", err)
	}
	half := after.Sub(before) / 2
	return time.UnixMicro(micros).Sub(before.Add(half)), half, nil
}

// ErrNotLeader is what Elector.IsLeader returns while another instance
// leads.
var ErrNotLeader = errors.New("storage: not the leader")

// Elector elects one leader among the instances sharing a PostgreSQL
// database, for one name: it implements gocron's Elector interface, so
// that a scheduler runs its jobs on one instance at a time. The leader
// holds a session advisory lock on a connection it keeps out of the pool;
// it stays leader while that connection lives, and loses the lead when a
// check of the connection fails (the next call tries to take it again).
// A leading elector keeps one connection of the store's pool. On SQLite,
// where one process owns the database, it always leads.
type Elector struct {
	db   *sql.DB // nil on SQLite
	key  int64
	name string

	mu     sync.Mutex
	conn   *sql.Conn // holds the lock while leading
	closed bool
}

// Elector returns the elector of name. Instances that use the same name
// elect one leader between them. The store closes it when it closes.
func (s *DB) Elector(name string) *Elector {
	if !s.isPostgres() {
		return &Elector{name: name}
	}
	e := &Elector{db: s.db, key: s.lockKey("elector\x00" + name), name: name}
	s.electorsMu.Lock()
	s.electors = append(s.electors, e)
	s.electorsMu.Unlock()
	return e
}

// IsLeader returns nil if this instance leads: it held the lock and its
// connection still answers, or it takes the lock now. It returns
// ErrNotLeader if another instance leads, and another error if the
// database cannot tell (this instance then does not lead).
func (e *Elector) IsLeader(ctx context.Context) error {
	if e.db == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("storage: elector %s: closed", e.name)
	}
	if e.conn != nil {
		if err := e.conn.PingContext(ctx); err != nil {
			discardConn(e.conn) // the server releases the lock with the session
			e.conn = nil
			return fmt.Errorf("storage: elector %s: leadership lost: %w", e.name, err)
		}
		return nil
	}
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("storage: elector %s: %w", e.name, err)
	}
	var locked bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, e.key).Scan(&locked); err != nil {
		discardConn(conn) // whether the lock was taken is unknown
		return fmt.Errorf("storage: elector %s: %w", e.name, err)
	}
	if !locked {
		conn.Close()
		return ErrNotLeader
	}
	e.conn = conn
	return nil
}

// Close gives up the lead (another instance can take it at once) and makes
// IsLeader fail from then on.
func (e *Elector) Close() error {
	if e.db == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	if e.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := e.conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, e.key)
	// Ending the session releases the lock in any case.
	discardConn(e.conn)
	e.conn = nil
	if err != nil {
		return fmt.Errorf("storage: elector %s: unlock: %w", e.name, err)
	}
	return nil
}

// discardConn closes c's connection instead of returning it to the pool,
// so that a session lock it may hold cannot stay with a pooled connection.
func discardConn(c *sql.Conn) {
	_ = c.Raw(func(any) error { return driver.ErrBadConn })
	_ = c.Close()
}

// Claim's statement on PostgreSQL. Several instances claim at once:
// FOR UPDATE SKIP LOCKED makes each take rows no other claim holds (and,
// in READ COMMITTED, re-checks each row's due condition once it holds
// it), so no task is handed to two claimers. The CTE is materialized so
// that the locking, limited SELECT runs exactly once.
const sqlClaimPostgres = `WITH due AS MATERIALIZED (
		SELECT id AS due_id FROM tasks
		WHERE (state = 'pending' AND next_attempt_at <= $3) OR (state = 'running' AND lease_until < $3)
		ORDER BY next_attempt_at LIMIT $4
		FOR UPDATE SKIP LOCKED)
	UPDATE tasks SET state = 'running', attempts = attempts + 1,
		lease_token = $1 || id, lease_until = $2, updated_at = $3
	FROM due WHERE id = due.due_id
	RETURNING ` + taskColumns
