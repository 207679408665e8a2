package storage

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"walletpass/pass"
)

// newID returns a random id that sorts by creation time (nanoseconds,
// then 64 random bits), so rows written in one millisecond keep their order.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%016x", uint64(time.Now().UnixNano())) + hex.EncodeToString(b[:])
}

// The statements of the webhook path, prepared once per store.
const (
	sqlInsertEvent = `INSERT INTO webhook_events (id, tenant, source, secret_token, order_id, ticket_id,
		movement_id, state, last_update, correlation_id, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	sqlUpsertHint = `INSERT INTO ticket_hints (tenant, secret_token, ref, state, last_update, source)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (tenant, secret_token, ref) DO UPDATE SET state = excluded.state, last_update = excluded.last_update,
			source = excluded.source
		WHERE ticket_hints.last_update <= excluded.last_update`
	// One statement enqueues: a new pending task (due after MinGap since the
	// key's last finished run), or a merge into the active task with the
	// key (pending: merged; running: flagged for one follow-up run). On
	// PostgreSQL, the unique partial index makes concurrent enqueues of a
	// key (from any instance) insert once and merge the others. A merged
	// sync takes the newest payload: it may carry the order itself (a V2
	// webhook), and the newest is the truth. So does a merged app notice:
	// its id names the newest change, which the installations that had
	// the notice before must hear of too (they skip a notice by its id). A
	// parameter compared with an integer literal is cast, or PostgreSQL
	// would type it INTEGER.
	// A merge never moves updated_at back: a merge stamped late (the
	// hints' below, recordTx) must not be undone by one stamped earlier
	// that commits after it.
	// A delivery waiting for a failing stream of its subscription
	// (pass.DeferError) is brought forward by a merge: the new messages of
	// its other streams go out at once. Any other pending task keeps its
	// backoff. An event-batch keeps its payload (ActiveFanouts remembers a
	// batch's events by its task id).
	sqlUpsertTask = `INSERT INTO tasks (id, tenant, kind, dedup_key, payload, state, next_attempt_at,
		correlation_ids, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, 'pending',
			CASE WHEN CAST($8 AS BIGINT) > 0 THEN COALESCE((SELECT CASE WHEN MAX(finished_at) + $8 > $6 THEN MAX(finished_at) + $8 END
				FROM tasks WHERE tenant = $2 AND kind = $3 AND dedup_key = $4 AND state = 'done'), $6) ELSE $6 END,
			$7, $6, $6)
		ON CONFLICT (tenant, kind, dedup_key) WHERE state IN ('pending', 'running') DO UPDATE SET
			merged = tasks.merged + 1,
			payload = CASE WHEN tasks.kind IN ('` + pass.TaskSyncOrder + `', '` + pass.TaskAppNotice + `') THEN excluded.payload ELSE tasks.payload END,
			rerun = CASE WHEN tasks.state = 'running' THEN true ELSE tasks.rerun END,
			next_attempt_at = CASE WHEN tasks.kind = '` + pass.TaskWebhookDelivery + `' AND tasks.state = 'pending'
				AND excluded.next_attempt_at < tasks.next_attempt_at THEN excluded.next_attempt_at ELSE tasks.next_attempt_at END,
			correlation_ids = CASE WHEN excluded.correlation_ids = '' OR length(tasks.correlation_ids) > 660
				THEN tasks.correlation_ids ELSE tasks.correlation_ids || ',' || excluded.correlation_ids END,
			updated_at = CASE WHEN tasks.updated_at > excluded.updated_at THEN tasks.updated_at ELSE excluded.updated_at END
		RETURNING id, state`
)

// sqlRecordPostgres inserts a webhook event ($1–$11) and enqueues its task
// (sqlUpsertTask's parameters, renumbered from $12) in one statement;
// PostgreSQL runs a data-modifying WITH whether or not it is read.
var sqlRecordPostgres = `WITH ev AS (` + sqlInsertEvent + `) ` + renumber(sqlUpsertTask, 11)

// renumber adds by to every $n parameter of query.
func renumber(query string, by int) string {
	var b strings.Builder
	for i := 0; i < len(query); i++ {
		if query[i] != '$' {
			b.WriteByte(query[i])
			continue
		}
		j := i + 1
		for j < len(query) && query[j] >= '0' && query[j] <= '9' {
			j++
		}
		n, err := strconv.Atoi(query[i+1 : j])
		if err != nil { // a '$' that is not a parameter
			b.WriteByte('$')
			continue
		}
		fmt.Fprintf(&b, "$%d", n+by)
		i = j - 1
	}
	return b.String()
}

// stmtCache prepares each statement of the writer once, on first use, and
// reuses it (inside transactions too): with a pure-Go SQLite, parsing a
// statement costs about as much as running it.
type stmtCache struct {
	db      *sql.DB
	m       sync.Map // query -> *sql.Stmt
	pending sync.Map // queries met inside a transaction, to prepare at the next warm
}

// warm prepares the statements first met inside a transaction. It must be
// called while the caller holds no connection of the writer (before
// BeginTx): preparing needs the connection a transaction would hold.
func (c *stmtCache) warm(ctx context.Context) {
	if c == nil {
		return
	}
	c.pending.Range(func(k, _ any) bool {
		c.stmt(ctx, k.(string))
		c.pending.Delete(k)
		return true
	})
}

// txStmt returns the prepared statement of q for use in a transaction, or
// nil (noting q for the next warm): it never prepares, since the
// transaction holds the only connection.
func (c *stmtCache) txStmt(q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	if v, ok := c.m.Load(q); ok {
		return v.(*sql.Stmt)
	}
	c.pending.Store(q, true)
	return nil
}

func (c *stmtCache) stmt(ctx context.Context, q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	if v, ok := c.m.Load(q); ok {
		return v.(*sql.Stmt)
	}
	p, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil // run unprepared; the error shows when it runs
	}
	if v, loaded := c.m.LoadOrStore(q, p); loaded {
		p.Close()
		return v.(*sql.Stmt)
	}
	return p
}

func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.m.Range(func(_, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
}

// prepared returns q's prepared statement, bound to tx when tx is given,
// or nil when q is not prepared (yet).
func (c *stmtCache) prepared(ctx context.Context, tx *sql.Tx, q string) *sql.Stmt {
	if tx == nil {
		return c.stmt(ctx, q)
	}
	if p := c.txStmt(q); p != nil {
		return tx.StmtContext(ctx, p)
	}
	return nil
}

// exec runs q in tx (or on the writer when tx is nil).
func (c *stmtCache) exec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	if p := c.prepared(ctx, tx, q); p != nil {
		return p.ExecContext(ctx, args...)
	}
	if tx != nil {
		return tx.ExecContext(ctx, q, args...)
	}
	return c.db.ExecContext(ctx, q, args...)
}

// rowsPerInsert is how many rows one INSERT of many takes.
const rowsPerInsert = 50

// insertRows inserts n rows, perStatement to an INSERT: head is the
// statement up to VALUES, tail what follows the rows (an ON CONFLICT
// clause, or ""; neither holds parameters), and row appends row i's cols values to args. A full
// statement is prepared once (SQLite); the last, shorter one runs as it
// is. One statement for many rows spares a round trip each (PostgreSQL)
// and a statement run each (both).
//
// On SQLite the rows' parameters are anonymous (?): a numbered one ($n)
// is named, and the driver asks SQLite for the name of each parameter on
// every run, a search through all the statement's names (quadratic in the
// parameters, 400 of them in a full statement of eight columns).
func (s *DB) insertRows(ctx context.Context, tx *sql.Tx, head, tail string, cols, n, perStatement int,
	row func(args []any, i int) []any) error {
	pg, anonymous := s.isPostgres(), "(?"+strings.Repeat(", ?", cols-1)+")"
	for start := 0; start < n; start += perStatement {
		k := min(perStatement, n-start)
		var q strings.Builder
		q.WriteString(head)
		q.WriteString(" VALUES ")
		args := make([]any, 0, k*cols)
		for i := range k {
			if i > 0 {
				q.WriteString(", ")
			}
			if pg {
				q.WriteString("(" + placeholders(len(args)+1, cols) + ")")
			} else {
				q.WriteString(anonymous)
			}
			args = row(args, start+i)
		}
		q.WriteString(tail)
		var err error
		if k == perStatement {
			_, err = s.stmts.exec(ctx, tx, q.String(), args...)
		} else {
			_, err = tx.ExecContext(ctx, q.String(), args...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *stmtCache) queryRow(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	if p := c.prepared(ctx, tx, q); p != nil {
		return p.QueryRowContext(ctx, args...)
	}
	if tx != nil {
		return tx.QueryRowContext(ctx, q, args...)
	}
	return c.db.QueryRowContext(ctx, q, args...)
}

func (c *stmtCache) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if p := c.stmt(ctx, q); p != nil {
		return p.QueryContext(ctx, args...)
	}
	return c.db.QueryContext(ctx, q, args...)
}

// RecordWebhook stores ev, its ticket hint (only if newer than the stored
// one) and enqueues or merges t, all in one transaction, and returns only
// once its webhook is durable. Concurrent calls are committed together
// (group commit), and one failure does not undo the others. On PostgreSQL
// the commit notifies the other instances (see NotifyTasks).
func (s *DB) RecordWebhook(ctx context.Context, ev pass.WebhookEvent, t pass.NewTask, now time.Time) (pass.Enqueued, error) {
	if ev.ID == "" {
		ev.ID = newID()
	}
	if s.group == nil {
		var res pass.Enqueued
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			var err error
			res, err = s.recordTx(ctx, tx, ev, t, now)
			return err
		})
		return res, err
	}
	return s.group.submit(ctx, func(ctx context.Context, tx *sql.Tx) (pass.Enqueued, error) {
		return s.recordTx(ctx, tx, ev, t, now)
	})
}

// write runs fn in a transaction of the writer: with the group committer
// (both stores open one) it shares a commit with the other writes
// waiting; without it, it runs in a transaction of its own.
func (s *DB) write(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if s.group == nil {
		return s.inTx(ctx, func(tx *sql.Tx) error { return fn(ctx, tx) })
	}
	_, err := s.group.submit(ctx, func(ctx context.Context, tx *sql.Tx) (pass.Enqueued, error) {
		return pass.Enqueued{}, fn(ctx, tx)
	})
	return err
}

// affectedOne turns "no row changed" into a lost-lease conflict.
func affectedOne(res sql.Result, err error, what string, id string) error {
	if err != nil {
		return fmt.Errorf("storage: %s %s: %w", what, id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return pass.Errorf(pass.KindConflict, "task %s: lease lost", id)
	}
	return nil
}

func (s *DB) recordTx(ctx context.Context, tx *sql.Tx, ev pass.WebhookEvent, t pass.NewTask, now time.Time) (pass.Enqueued, error) {
	evArgs := []any{ev.ID, ev.Tenant, ev.Source, ev.SecretToken, ev.OrderID, ev.TicketID, ev.MovementID, ev.State,
		ev.LastUpdate.UnixMilli(), ev.CorrelationID, ev.ReceivedAt.UnixMilli()}
	refs := hintRefs(ev)
	if s.isPostgres() && len(refs) == 0 {
		// One round trip: the event and the task in one statement.
		id := newID()
		args := append(evArgs, taskArgs(id, t, now)...)
		var gotID, state string
		if err := tx.QueryRowContext(ctx, sqlRecordPostgres, args...).Scan(&gotID, &state); err != nil {
			return pass.Enqueued{}, fmt.Errorf("storage: record webhook: %w", err)
		}
		return s.enqueued(ctx, tx, id, gotID, state)
	}
	_, err := s.stmts.exec(ctx, tx, sqlInsertEvent, evArgs...)
	if err != nil {
		return pass.Enqueued{}, fmt.Errorf("storage: record webhook: %w", err)
	}
	// Only the states SecuTix's API may not show (a scan at the gate) are
	// kept as hints; everything else is read from SecuTix.
	for _, ref := range refs {
		_, err := s.stmts.exec(ctx, tx, sqlUpsertHint, ev.Tenant, ev.SecretToken, ref, ev.State, ev.LastUpdate.UnixMilli(), ev.Source)
		if err != nil {
			return pass.Enqueued{}, fmt.Errorf("storage: ticket hint: %w", err)
		}
	}
	res, err := s.enqueueTx(ctx, tx, t, now)
	if err != nil || len(refs) == 0 || res.How != "rerun" {
		return res, err
	}
	// A hint merged into a running sync: the run reads the hints from
	// this database after its SecuTix read (Task.ReadAt), so a hint that
	// commits later than now, when the writer was busy, may be stamped
	// before that read and still be unseen (Complete would take it as
	// seen). Its merge is stamped with the run's lease end instead, after
	// any read the run made: the sync runs once more.
	if _, err := s.stmts.exec(ctx, tx, `UPDATE tasks SET updated_at = lease_until
		WHERE id = $1 AND state = 'running' AND lease_until > updated_at`, res.TaskID); err != nil {
		return pass.Enqueued{}, fmt.Errorf("storage: ticket hint: %w", err)
	}
	return res, nil
}

func hintRefs(ev pass.WebhookEvent) []string {
	if ev.State == pass.StateVoidedByOperator {
		// Only an operator voids a ticket for good: a webhook's credential
		// asks for a sync, nothing more.
		if ev.Source == pass.SourceConsole && ev.SecretToken != "" && ev.TicketID != 0 {
			return []string{fmt.Sprintf("v:%d", ev.TicketID)}
		}
		return nil
	}
	if ev.SecretToken == "" || !pass.IsUsedState(ev.State) {
		return nil
	}
	var refs []string
	if ev.TicketID != 0 {
		refs = append(refs, fmt.Sprintf("t:%d", ev.TicketID))
	}
	if ev.MovementID != 0 {
		refs = append(refs, fmt.Sprintf("m:%d", ev.MovementID))
	}
	return refs
}

// Enqueue adds t, or merges it into the pending task with the same key
// (due now), or flags the running one for exactly one follow-up run. On
// PostgreSQL it notifies the other instances (see NotifyTasks).
func (s *DB) Enqueue(ctx context.Context, t pass.NewTask, now time.Time) (pass.Enqueued, error) {
	var res pass.Enqueued
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = s.enqueueTx(ctx, tx, t, now)
		return err
	})
	return res, err
}

// EnqueueMany enqueues every task in one transaction: they all appear at
// once (reconciliation, load tests).
func (s *DB) EnqueueMany(ctx context.Context, ts []pass.NewTask, now time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, t := range ts {
			if _, err := s.enqueueTx(ctx, tx, t, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// enqueueTx enqueues t in tx (see Enqueue) and, on PostgreSQL, notifies
// the other instances when tx commits.
func (s *DB) enqueueTx(ctx context.Context, tx *sql.Tx, t pass.NewTask, now time.Time) (pass.Enqueued, error) {
	id := newID()
	var gotID, state string
	err := s.stmts.queryRow(ctx, tx, sqlUpsertTask, taskArgs(id, t, now)...).Scan(&gotID, &state)
	if err != nil {
		return pass.Enqueued{}, fmt.Errorf("storage: enqueue: %w", err)
	}
	return s.enqueued(ctx, tx, id, gotID, state)
}

// taskArgs are the parameters of sqlUpsertTask.
func taskArgs(id string, t pass.NewTask, now time.Time) []any {
	return []any{id, t.Tenant, t.Kind, t.DedupKey, string(t.Payload), now.UnixMilli(), t.CorrelationID, t.MinGap.Milliseconds()}
}

// enqueued notifies the other instances of the task sqlUpsertTask wrote
// (PostgreSQL) and says what became of it: created (it has the id we
// gave), merged into a pending task or flagged for a rerun.
func (s *DB) enqueued(ctx context.Context, tx *sql.Tx, id, gotID, state string) (pass.Enqueued, error) {
	if err := s.notifyTx(ctx, tx); err != nil {
		return pass.Enqueued{}, err
	}
	switch {
	case gotID == id:
		return pass.Enqueued{TaskID: id, How: "created"}, nil
	case state == string(pass.TaskRunning):
		return pass.Enqueued{TaskID: gotID, How: "rerun"}, nil
	default:
		return pass.Enqueued{TaskID: gotID, How: "merged"}, nil
	}
}

func splitIDs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

const taskColumns = `id, tenant, kind, dedup_key, payload, state, attempts, next_attempt_at, lease_until, lease_token,
	rerun, merged, last_error, correlation_ids, created_at, updated_at, finished_at`

func scanTask(r scanner) (pass.Task, error) {
	var t pass.Task
	var payload, state, corr string
	var next, lease, created, updated, finished int64
	err := r.Scan(&t.ID, &t.Tenant, &t.Kind, &t.DedupKey, &payload, &state, &t.Attempts, &next, &lease, &t.LeaseToken,
		&t.Rerun, &t.Merged, &t.LastError, &corr, &created, &updated, &finished)
	if err != nil {
		return t, err
	}
	t.Payload = []byte(payload)
	t.State = pass.TaskState(state)
	t.NextAttemptAt = time.UnixMilli(next).UTC()
	t.LeaseUntil = time.UnixMilli(lease).UTC()
	t.CorrelationIDs = splitIDs(corr)
	t.CreatedAt = time.UnixMilli(created).UTC()
	t.UpdatedAt = time.UnixMilli(updated).UTC()
	if finished != 0 {
		t.FinishedAt = time.UnixMilli(finished).UTC()
	}
	return t, nil
}

// sqlClaim claims due tasks on SQLite, where this process is the only
// writer; PostgreSQL uses sqlClaimPostgres.
const sqlClaim = `UPDATE tasks SET state = 'running', attempts = attempts + 1,
			lease_token = $1 || id, lease_until = $2, updated_at = $3
		WHERE id IN (SELECT id FROM tasks
			WHERE (state = 'pending' AND next_attempt_at <= $3) OR (state = 'running' AND lease_until < $3)
			ORDER BY next_attempt_at LIMIT $4)
		RETURNING ` + taskColumns

// Claim leases up to limit due tasks: pending ones whose time has come and
// running ones whose lease expired (their worker died). Each claim counts
// as an attempt and gets a fresh lease token. One statement claims them
// all; on PostgreSQL, concurrent claims (from any instance) never take the
// same task.
func (s *DB) Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]pass.Task, error) {
	s.watch.check(ctx) // a task another process queued follows its writes: the cache forgets them first
	ms := now.UnixMilli()
	args := []any{newID(), ms + lease.Milliseconds(), ms, limit}
	var rows *sql.Rows
	var err error
	if s.isPostgres() {
		rows, err = s.db.QueryContext(ctx, sqlClaimPostgres, args...)
	} else {
		rows, err = s.stmts.query(ctx, sqlClaim, args...)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: claim: %w", err)
	}
	defer rows.Close()
	var out []pass.Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return out, fmt.Errorf("storage: claim: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Extend renews the lease of a claimed task until until. A lost lease is a
// KindConflict error.
func (s *DB) Extend(ctx context.Context, t pass.Task, until time.Time) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.stmts.exec(ctx, tx, `UPDATE tasks SET lease_until = $1 WHERE id = $2 AND state = 'running' AND lease_token = $3`,
			until.UnixMilli(), t.ID, t.LeaseToken)
		return affectedOne(res, err, "extend lease of", t.ID)
	})
}

// readSkew is how far apart two instances' clocks may be: a merge this
// close before a run's read may not have been seen by it.
const readSkew = 200 * time.Millisecond

// Complete finishes a claimed task. If events arrived while it ran (after
// t.ReadAt, when the run read its source, less readSkew), it is pending
// again, due at rerunAt (a short delay lets the rest of a burst join that
// one follow-up run), with its attempts reset. A task whose
// lease was lost (another worker reclaimed it) is a KindConflict error.
// On PostgreSQL, a follow-up run notifies the other instances (see
// NotifyTasks).
func (s *DB) Complete(ctx context.Context, t pass.Task, now, rerunAt time.Time) error {
	ms := now.UnixMilli()
	var seen int64
	if !t.ReadAt.IsZero() {
		seen = t.ReadAt.Add(-readSkew).UnixMilli()
	}
	args := []any{ms, t.ID, t.LeaseToken, rerunAt.UnixMilli(), seen}
	if s.isPostgres() {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			var state string
			err := tx.QueryRowContext(ctx, sqlComplete+` RETURNING state`, args...).Scan(&state)
			if errors.Is(err, sql.ErrNoRows) {
				return pass.Errorf(pass.KindConflict, "task %s: lease lost", t.ID)
			}
			if err != nil {
				return fmt.Errorf("storage: complete task %s: %w", t.ID, err)
			}
			if state == string(pass.TaskPending) {
				return s.notifyTx(ctx, tx)
			}
			return nil
		})
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.stmts.exec(ctx, tx, sqlComplete, args...)
		return affectedOne(res, err, "complete task", t.ID)
	})
}

// A merge sets rerun and updated_at; $5 is the run's read moment less
// readSkew (Task.ReadAt; 0 when unknown): merges before it were seen.
const sqlComplete = `UPDATE tasks SET
				state = CASE WHEN rerun AND updated_at > $5 THEN 'pending' ELSE 'done' END,
				attempts = CASE WHEN rerun AND updated_at > $5 THEN 0 ELSE attempts END,
				next_attempt_at = CASE WHEN rerun AND updated_at > $5 THEN $4 ELSE next_attempt_at END,
				finished_at = CASE WHEN rerun AND updated_at > $5 THEN 0 ELSE CAST($1 AS BIGINT) END,
				rerun = false, lease_token = '', lease_until = 0, last_error = '', updated_at = $1
			WHERE id = $2 AND state = 'running' AND lease_token = $3`

// Fail records a failed attempt: the task is pending again at retryAt, or
// dead (kept, with its last error) when dead is true. Events that arrived
// meanwhile are already covered by the retry.
func (s *DB) Fail(ctx context.Context, t pass.Task, cause string, retryAt time.Time, dead bool, now time.Time) error {
	cause = fitText(cause, 2000)
	state := string(pass.TaskPending)
	finished := int64(0)
	if dead {
		state = string(pass.TaskDead)
		finished = now.UnixMilli()
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.stmts.exec(ctx, tx, `UPDATE tasks SET state = $1, next_attempt_at = $2, last_error = $3, rerun = false,
				lease_token = '', lease_until = 0, updated_at = $4, finished_at = $5
			WHERE id = $6 AND state = 'running' AND lease_token = $7`,
			state, retryAt.UnixMilli(), cause, now.UnixMilli(), finished, t.ID, t.LeaseToken)
		return affectedOne(res, err, "fail task", t.ID)
	})
}

// Release gives back a claimed task whose run was cut short by its own
// worker (the dispatcher stopping), not by a failure: the task is pending
// again, due at now, with the attempt its claim counted taken back and its
// last error kept. Events merged while it ran are covered by the next
// run. On PostgreSQL it notifies the other instances (see NotifyTasks),
// which may run the task before this one restarts. A task whose lease was
// lost is a KindConflict error.
func (s *DB) Release(ctx context.Context, t pass.Task, now time.Time) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.stmts.exec(ctx, tx, `UPDATE tasks SET state = 'pending',
				attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, next_attempt_at = $1, rerun = false,
				lease_token = '', lease_until = 0, updated_at = $1
			WHERE id = $2 AND state = 'running' AND lease_token = $3`,
			now.UnixMilli(), t.ID, t.LeaseToken)
		if err := affectedOne(res, err, "release task", t.ID); err != nil {
			return err
		}
		return s.notifyTx(ctx, tx)
	})
}

// Defer gives back a claimed task that did not fail but has more to do at
// at (pass.DeferError): pending again, due at at, or at soon when events
// merged into it while it ran; its attempts start again from none. A task
// whose lease was lost is a KindConflict error.
func (s *DB) Defer(ctx context.Context, t pass.Task, at, soon, now time.Time) error {
	if at.Before(soon) {
		soon = at
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.stmts.exec(ctx, tx, `UPDATE tasks SET state = 'pending', attempts = 0,
				next_attempt_at = CASE WHEN rerun THEN CAST($1 AS BIGINT) ELSE CAST($2 AS BIGINT) END, rerun = false, last_error = '',
				lease_token = '', lease_until = 0, updated_at = $3
			WHERE id = $4 AND state = 'running' AND lease_token = $5`,
			soon.UnixMilli(), at.UnixMilli(), now.UnixMilli(), t.ID, t.LeaseToken)
		if err := affectedOne(res, err, "defer task", t.ID); err != nil {
			return err
		}
		return s.notifyTx(ctx, tx)
	})
}

// NextDue returns when the earliest pending task is due, or false when
// none is pending.
func (s *DB) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	if err := s.rdb.QueryRowContext(ctx, `SELECT MIN(next_attempt_at) FROM tasks WHERE state = 'pending'`).Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("storage: next due: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(next.Int64).UTC(), true, nil
}

// CountTasks returns how many tasks of kind tenant has in state (pending
// and running together when state is "").
func (s *DB) CountTasks(ctx context.Context, tenant, kind string, state pass.TaskState) (int, error) {
	var n int
	err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM tasks WHERE tenant = $1 AND kind = $2
		AND (($3 = '' AND state IN ('pending', 'running')) OR state = $3)`, tenant, kind, string(state)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("storage: count tasks: %w", err)
	}
	return n, nil
}

// ListTasks returns tasks in the given state ("" for all), newest first.
func (s *DB) ListTasks(ctx context.Context, state pass.TaskState, limit int) ([]pass.Task, error) {
	q := `SELECT ` + taskColumns + ` FROM tasks`
	args := []any{}
	if state != "" {
		q += ` WHERE state = $1 ORDER BY updated_at DESC LIMIT $2`
		args = append(args, string(state), limit)
	} else {
		q += ` ORDER BY updated_at DESC LIMIT $1`
		args = append(args, limit)
	}
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("storage: list tasks: %w", err)
	}
	defer rows.Close()
	var out []pass.Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("storage: list tasks: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RetryTask makes a dead (or failed, pending) task due now with its
// attempts reset (on PostgreSQL, then notifies the other instances). It
// returns KindNotFound if there is no such task, and KindConflict if it
// is running or done.
func (s *DB) RetryTask(ctx context.Context, id string, now time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE tasks SET state = 'pending', attempts = 0, next_attempt_at = $1, finished_at = 0,
		updated_at = $1 WHERE id = $2 AND state IN ('dead', 'pending')`, now.UnixMilli(), id)
	if err != nil {
		if isUniqueViolation(err) {
			return pass.Wrap(pass.KindConflict, err, "another task for the same order is already active")
		}
		return fmt.Errorf("storage: retry task %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		// Committed already, so the notification follows it; best effort,
		// as the dispatchers poll too.
		_ = s.NotifyTasks(ctx)
		return nil
	}
	var state string
	err = s.rdb.QueryRowContext(ctx, `SELECT state FROM tasks WHERE id = $1`, id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return pass.Errorf(pass.KindNotFound, "no task %s", id)
	}
	return pass.Errorf(pass.KindConflict, "task %s is %s", id, state)
}

// Hints returns the ticket hints of an order.
func (s *DB) Hints(ctx context.Context, tenant, secretToken string) ([]pass.TicketHint, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT ref, state, last_update, source FROM ticket_hints WHERE tenant = $1 AND secret_token = $2`,
		tenant, secretToken)
	if err != nil {
		return nil, fmt.Errorf("storage: hints: %w", err)
	}
	defer rows.Close()
	var out []pass.TicketHint
	for rows.Next() {
		var h pass.TicketHint
		var lu int64
		if err := rows.Scan(&h.Ref, &h.State, &lu, &h.Source); err != nil {
			return nil, fmt.Errorf("storage: hints: %w", err)
		}
		h.LastUpdate = time.UnixMilli(lu).UTC()
		out = append(out, h)
	}
	return out, rows.Err()
}

// AddTimeline records entries of orders' timelines, in one transaction.
func (s *DB) AddTimeline(ctx context.Context, entries ...pass.TimelineEntry) error {
	if len(entries) == 0 {
		return nil
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		err := s.insertRows(ctx, tx, `INSERT INTO order_timeline (id, tenant, secret_token, file_id, at, kind, correlation_id, detail)`, "",
			8, len(entries), rowsPerInsert, func(args []any, i int) []any {
				e := entries[i]
				e.Detail = fitText(e.Detail, 4000)
				return append(args, newID(), e.Tenant, e.SecretToken, e.FileID, e.At.UnixMilli(), e.Kind, e.CorrelationID, e.Detail)
			})
		if err != nil {
			return fmt.Errorf("storage: timeline: %w", err)
		}
		return nil
	})
}

// Timeline returns an order's entries, oldest first, by secret token or
// (when secretToken is empty) by file id. Webhooks come from the events
// table, so recording one costs no extra write.
func (s *DB) Timeline(ctx context.Context, tenant, secretToken string, fileID int64) ([]pass.TimelineEntry, error) {
	const webhooks = `SELECT secret_token, 0, received_at, 'webhook', correlation_id,
		source || ' state=' || state || ' ticket=' || ticket_id || ' movement=' || movement_id || ' order=' || order_id, id
		FROM webhook_events WHERE tenant = $1 AND `
	const entries = `SELECT secret_token, file_id, at, kind, correlation_id, detail, id FROM order_timeline WHERE tenant = $1 AND `
	var q string
	var arg any
	if secretToken != "" {
		q = entries + `secret_token = $2 UNION ALL ` + webhooks + `secret_token = $2`
		arg = secretToken
	} else {
		q = entries + `file_id = $2 UNION ALL ` + webhooks + `secret_token IN
			(SELECT DISTINCT secret_token FROM order_timeline WHERE tenant = $1 AND file_id = $2 AND secret_token <> '')`
		arg = fileID
	}
	rows, err := s.rdb.QueryContext(ctx, q+` ORDER BY 3, 7`, tenant, arg)
	if err != nil {
		return nil, fmt.Errorf("storage: timeline: %w", err)
	}
	defer rows.Close()
	var out []pass.TimelineEntry
	for rows.Next() {
		e := pass.TimelineEntry{Tenant: tenant}
		var at int64
		var id string
		if err := rows.Scan(&e.SecretToken, &e.FileID, &at, &e.Kind, &e.CorrelationID, &e.Detail, &id); err != nil {
			return nil, fmt.Errorf("storage: timeline: %w", err)
		}
		e.At = time.UnixMilli(at).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// PurgeBefore deletes finished tasks (done or dead), webhook events, timeline entries,
// pushes and delivered webhook messages older than cutoff (and those given
// up on, by when they were made), and returns how many rows went. Pending
// messages stay whatever their age.
func (s *DB) PurgeBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for _, q := range []string{
		`DELETE FROM tasks WHERE state IN ('done', 'dead') AND finished_at < $1`,
		`DELETE FROM webhook_events WHERE received_at < $1`,
		`DELETE FROM order_timeline WHERE at < $1`,
		`DELETE FROM push_log WHERE at < $1`,
		`DELETE FROM webhook_messages WHERE state = 'delivered' AND delivered_at < $1`,
		`DELETE FROM webhook_messages WHERE state = 'failed' AND created_at < $1`,
	} {
		res, err := s.db.ExecContext(ctx, q, cutoff.UnixMilli())
		if err != nil {
			return total, fmt.Errorf("storage: purge: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

// RecentOrders returns the secret tokens of orders whose passes changed
// since the given time (for reconciliation), at most limit.
func (s *DB) RecentOrders(ctx context.Context, since time.Time, limit int) ([]pass.OrderRef, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT tenant, secret_token, MAX(updated_at) AS u FROM passes
		WHERE updated_at >= $1 AND secret_token <> '' GROUP BY tenant, secret_token ORDER BY u DESC LIMIT $2`,
		since.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("storage: recent orders: %w", err)
	}
	defer rows.Close()
	var out []pass.OrderRef
	for rows.Next() {
		var r pass.OrderRef
		var u int64
		if err := rows.Scan(&r.Tenant, &r.SecretToken, &u); err != nil {
			return nil, fmt.Errorf("storage: recent orders: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

var (
	_ pass.WebhookRecorder = (*DB)(nil)
	_ pass.Enqueuer        = (*DB)(nil)
	_ pass.HintReader      = (*DB)(nil)
)
var _ pass.Timeline = (*DB)(nil)

// TaskStat is how many tasks of a kind are in a state (pending, running
// or dead), and, for pending ones, when the longest-waiting due task
// became due (zero when none is due).
type TaskStat struct {
	Kind, State string
	Count       int
	OldestDue   time.Time
}

// TaskStats counts the tasks that are not done, by kind and state, for
// the metrics (done tasks are counted as they finish). now decides which
// pending tasks are due.
func (s *DB) TaskStats(ctx context.Context, now time.Time) ([]TaskStat, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT kind, state, COUNT(*),
		MIN(CASE WHEN state = 'pending' AND next_attempt_at <= $1 THEN next_attempt_at END)
		FROM tasks WHERE state IN ('pending', 'running', 'dead') GROUP BY kind, state ORDER BY kind, state`, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("storage: task stats: %w", err)
	}
	defer rows.Close()
	var out []TaskStat
	for rows.Next() {
		var st TaskStat
		var due sql.NullInt64
		if err := rows.Scan(&st.Kind, &st.State, &st.Count, &due); err != nil {
			return nil, fmt.Errorf("storage: task stats: %w", err)
		}
		if due.Valid {
			st.OldestDue = time.UnixMilli(due.Int64).UTC()
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage: task stats: %w", err)
	}
	return out, nil
}
