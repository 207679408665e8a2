package storage

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"walletpass/pass"
)

// maxCorrelationIDs caps how many correlation ids a merged task remembers.
const maxCorrelationIDs = 20

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// RecordWebhook stores ev, its ticket hint (only if newer than the stored
// one) and enqueues or merges t, all in one transaction.
func (s *DB) RecordWebhook(ctx context.Context, ev pass.WebhookEvent, t pass.NewTask, now time.Time) (pass.Enqueued, error) {
	var res pass.Enqueued
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if ev.ID == "" {
			ev.ID = newID()
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO webhook_events (id, tenant, source, secret_token, order_id, ticket_id,
			movement_id, state, last_update, correlation_id, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			ev.ID, ev.Tenant, ev.Source, ev.SecretToken, ev.OrderID, ev.TicketID, ev.MovementID, ev.State,
			ev.LastUpdate.UnixMilli(), ev.CorrelationID, ev.ReceivedAt.UnixMilli())
		if err != nil {
			return fmt.Errorf("storage: record webhook: %w", err)
		}
		for _, ref := range hintRefs(ev) {
			_, err := tx.ExecContext(ctx, `INSERT INTO ticket_hints (tenant, secret_token, ref, state, last_update)
				VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (tenant, secret_token, ref) DO UPDATE SET state = excluded.state, last_update = excluded.last_update
				WHERE ticket_hints.last_update <= excluded.last_update`,
				ev.Tenant, ev.SecretToken, ref, ev.State, ev.LastUpdate.UnixMilli())
			if err != nil {
				return fmt.Errorf("storage: ticket hint: %w", err)
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO order_timeline (id, tenant, secret_token, file_id, at, kind, correlation_id, detail)
			VALUES ($1, $2, $3, 0, $4, 'webhook', $5, $6)`, newID(), ev.Tenant, ev.SecretToken, now.UnixMilli(), ev.CorrelationID,
			webhookDetail(ev))
		if err != nil {
			return fmt.Errorf("storage: timeline: %w", err)
		}
		res, err = enqueueTx(ctx, tx, t, now)
		return err
	})
	return res, err
}

func hintRefs(ev pass.WebhookEvent) []string {
	if ev.SecretToken == "" {
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

func webhookDetail(ev pass.WebhookEvent) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s state=%s", ev.Source, ev.State)
	if ev.TicketID != 0 {
		fmt.Fprintf(&b, " ticket=%d", ev.TicketID)
	}
	if ev.MovementID != 0 {
		fmt.Fprintf(&b, " movement=%d", ev.MovementID)
	}
	if ev.OrderID != 0 {
		fmt.Fprintf(&b, " order=%d", ev.OrderID)
	}
	if !ev.LastUpdate.IsZero() {
		fmt.Fprintf(&b, " lastUpdate=%s", ev.LastUpdate.UTC().Format(time.RFC3339Nano))
	}
	return b.String()
}

// Enqueue adds t, or merges it into the pending task with the same key
// (due now), or flags the running one for exactly one follow-up run.
func (s *DB) Enqueue(ctx context.Context, t pass.NewTask, now time.Time) (pass.Enqueued, error) {
	var res pass.Enqueued
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = enqueueTx(ctx, tx, t, now)
		return err
	})
	return res, err
}

func enqueueTx(ctx context.Context, tx *sql.Tx, t pass.NewTask, now time.Time) (pass.Enqueued, error) {
	ms := now.UnixMilli()
	var id, state, corr string
	err := tx.QueryRowContext(ctx, `SELECT id, state, correlation_ids FROM tasks
		WHERE tenant = $1 AND kind = $2 AND dedup_key = $3 AND state IN ('pending', 'running')`,
		t.Tenant, t.Kind, t.DedupKey).Scan(&id, &state, &corr)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		id = newID()
		due := ms
		if t.MinGap > 0 {
			var last sql.NullInt64
			err := tx.QueryRowContext(ctx, `SELECT MAX(finished_at) FROM tasks
				WHERE tenant = $1 AND kind = $2 AND dedup_key = $3 AND state = 'done'`, t.Tenant, t.Kind, t.DedupKey).Scan(&last)
			if err != nil {
				return pass.Enqueued{}, fmt.Errorf("storage: enqueue: %w", err)
			}
			if last.Valid && last.Int64+t.MinGap.Milliseconds() > due {
				due = last.Int64 + t.MinGap.Milliseconds()
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO tasks (id, tenant, kind, dedup_key, payload, state, next_attempt_at,
			correlation_ids, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $8)`,
			id, t.Tenant, t.Kind, t.DedupKey, string(t.Payload), due, t.CorrelationID, ms)
		if err != nil {
			if isUniqueViolation(err) {
				return pass.Enqueued{}, pass.Wrap(pass.KindConflict, err, "a task with this key was enqueued concurrently")
			}
			return pass.Enqueued{}, fmt.Errorf("storage: enqueue: %w", err)
		}
		return pass.Enqueued{TaskID: id, How: "created"}, nil
	case err != nil:
		return pass.Enqueued{}, fmt.Errorf("storage: enqueue: %w", err)
	}
	corr = appendCorrelation(corr, t.CorrelationID)
	if state == string(pass.TaskPending) {
		_, err = tx.ExecContext(ctx, `UPDATE tasks SET merged = merged + 1, correlation_ids = $1, updated_at = $2
			WHERE id = $3`, corr, ms, id)
		if err != nil {
			return pass.Enqueued{}, fmt.Errorf("storage: merge task: %w", err)
		}
		return pass.Enqueued{TaskID: id, How: "merged"}, nil
	}
	_, err = tx.ExecContext(ctx, `UPDATE tasks SET rerun = true, merged = merged + 1, correlation_ids = $1, updated_at = $2
		WHERE id = $3`, corr, ms, id)
	if err != nil {
		return pass.Enqueued{}, fmt.Errorf("storage: flag task: %w", err)
	}
	return pass.Enqueued{TaskID: id, How: "rerun"}, nil
}

func appendCorrelation(list, id string) string {
	if id == "" {
		return list
	}
	ids := splitIDs(list)
	for _, x := range ids {
		if x == id {
			return list
		}
	}
	ids = append(ids, id)
	if len(ids) > maxCorrelationIDs {
		ids = ids[len(ids)-maxCorrelationIDs:]
	}
	return strings.Join(ids, ",")
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

// Claim leases up to limit due tasks: pending ones whose time has come and
// running ones whose lease expired (their worker died). Each claim counts
// as an attempt and gets a fresh lease token.
func (s *DB) Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]pass.Task, error) {
	ms := now.UnixMilli()
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM tasks
		WHERE (state = 'pending' AND next_attempt_at <= $1) OR (state = 'running' AND lease_until < $1)
		ORDER BY next_attempt_at LIMIT $2`, ms, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: claim: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("storage: claim: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage: claim: %w", err)
	}
	var out []pass.Task
	for _, id := range ids {
		token := newID()
		row := s.db.QueryRowContext(ctx, `UPDATE tasks SET state = 'running', attempts = attempts + 1, lease_token = $1,
			lease_until = $2, updated_at = $3
			WHERE id = $4 AND ((state = 'pending' AND next_attempt_at <= $3) OR (state = 'running' AND lease_until < $3))
			RETURNING `+taskColumns, token, ms+lease.Milliseconds(), ms, id)
		t, err := scanTask(row)
		if errors.Is(err, sql.ErrNoRows) {
			continue // another worker took it
		}
		if err != nil {
			return out, fmt.Errorf("storage: claim %s: %w", id, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// Extend renews the lease of a claimed task until until. A lost lease is a
// KindConflict error.
func (s *DB) Extend(ctx context.Context, t pass.Task, until time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE tasks SET lease_until = $1 WHERE id = $2 AND state = 'running' AND lease_token = $3`,
		until.UnixMilli(), t.ID, t.LeaseToken)
	if err != nil {
		return fmt.Errorf("storage: extend lease of %s: %w", t.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return pass.Errorf(pass.KindConflict, "task %s: lease lost", t.ID)
	}
	return nil
}

// Complete finishes a claimed task. If events arrived while it ran, it is
// pending again, due at rerunAt (a short delay lets the rest of a burst
// join that one follow-up run), with its attempts reset. A task whose
// lease was lost (another worker reclaimed it) is a KindConflict error.
func (s *DB) Complete(ctx context.Context, t pass.Task, now, rerunAt time.Time) error {
	ms := now.UnixMilli()
	res, err := s.db.ExecContext(ctx, `UPDATE tasks SET
			state = CASE WHEN rerun THEN 'pending' ELSE 'done' END,
			attempts = CASE WHEN rerun THEN 0 ELSE attempts END,
			next_attempt_at = CASE WHEN rerun THEN $4 ELSE next_attempt_at END,
			finished_at = CASE WHEN rerun THEN 0 ELSE $1 END,
			rerun = false, lease_token = '', lease_until = 0, last_error = '', updated_at = $1
		WHERE id = $2 AND state = 'running' AND lease_token = $3`, ms, t.ID, t.LeaseToken, rerunAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("storage: complete task %s: %w", t.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return pass.Errorf(pass.KindConflict, "task %s: lease lost", t.ID)
	}
	return nil
}

// Fail records a failed attempt: the task is pending again at retryAt, or
// dead (kept, with its last error) when dead is true. Events that arrived
// meanwhile are already covered by the retry.
func (s *DB) Fail(ctx context.Context, t pass.Task, cause string, retryAt time.Time, dead bool, now time.Time) error {
	if len(cause) > 2000 {
		cause = cause[:2000]
	}
	state := string(pass.TaskPending)
	finished := int64(0)
	if dead {
		state = string(pass.TaskDead)
		finished = now.UnixMilli()
	}
	res, err := s.db.ExecContext(ctx, `UPDATE tasks SET state = $1, next_attempt_at = $2, last_error = $3, rerun = false,
			lease_token = '', lease_until = 0, updated_at = $4, finished_at = $5
		WHERE id = $6 AND state = 'running' AND lease_token = $7`,
		state, retryAt.UnixMilli(), cause, now.UnixMilli(), finished, t.ID, t.LeaseToken)
	if err != nil {
		return fmt.Errorf("storage: fail task %s: %w", t.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return pass.Errorf(pass.KindConflict, "task %s: lease lost", t.ID)
	}
	return nil
}

// NextDue returns when the earliest pending task is due, or false when
// none is pending.
func (s *DB) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MIN(next_attempt_at) FROM tasks WHERE state = 'pending'`).Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("storage: next due: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(next.Int64).UTC(), true, nil
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
	rows, err := s.db.QueryContext(ctx, q, args...)
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
// attempts reset. It returns KindNotFound if there is no such task, and
// KindConflict if it is running or done.
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
		return nil
	}
	var state string
	err = s.db.QueryRowContext(ctx, `SELECT state FROM tasks WHERE id = $1`, id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return pass.Errorf(pass.KindNotFound, "no task %s", id)
	}
	return pass.Errorf(pass.KindConflict, "task %s is %s", id, state)
}

// Hints returns the ticket hints of an order.
func (s *DB) Hints(ctx context.Context, tenant, secretToken string) ([]pass.TicketHint, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT ref, state, last_update FROM ticket_hints WHERE tenant = $1 AND secret_token = $2`,
		tenant, secretToken)
	if err != nil {
		return nil, fmt.Errorf("storage: hints: %w", err)
	}
	defer rows.Close()
	var out []pass.TicketHint
	for rows.Next() {
		var h pass.TicketHint
		var lu int64
		if err := rows.Scan(&h.Ref, &h.State, &lu); err != nil {
			return nil, fmt.Errorf("storage: hints: %w", err)
		}
		h.LastUpdate = time.UnixMilli(lu).UTC()
		out = append(out, h)
	}
	return out, rows.Err()
}

// AddTimeline records one entry of an order's timeline.
func (s *DB) AddTimeline(ctx context.Context, e pass.TimelineEntry) error {
	if len(e.Detail) > 4000 {
		e.Detail = e.Detail[:4000]
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO order_timeline (id, tenant, secret_token, file_id, at, kind, correlation_id, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, newID(), e.Tenant, e.SecretToken, e.FileID, e.At.UnixMilli(), e.Kind,
		e.CorrelationID, e.Detail)
	if err != nil {
		return fmt.Errorf("storage: timeline: %w", err)
	}
	return nil
}

// Timeline returns an order's entries, oldest first, by secret token or
// (when secretToken is empty) by file id.
func (s *DB) Timeline(ctx context.Context, tenant, secretToken string, fileID int64) ([]pass.TimelineEntry, error) {
	q := `SELECT secret_token, file_id, at, kind, correlation_id, detail FROM order_timeline WHERE tenant = $1 AND `
	var arg any = secretToken
	if secretToken != "" {
		q += `secret_token = $2`
	} else {
		q += `file_id = $2`
		arg = fileID
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY at, id`, tenant, arg)
	if err != nil {
		return nil, fmt.Errorf("storage: timeline: %w", err)
	}
	defer rows.Close()
	var out []pass.TimelineEntry
	for rows.Next() {
		e := pass.TimelineEntry{Tenant: tenant}
		var at int64
		if err := rows.Scan(&e.SecretToken, &e.FileID, &at, &e.Kind, &e.CorrelationID, &e.Detail); err != nil {
			return nil, fmt.Errorf("storage: timeline: %w", err)
		}
		e.At = time.UnixMilli(at).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// PurgeBefore deletes finished tasks, webhook events and timeline entries
// older than cutoff, and returns how many rows went.
func (s *DB) PurgeBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for _, q := range []string{
		`DELETE FROM tasks WHERE state = 'done' AND finished_at < $1`,
		`DELETE FROM webhook_events WHERE received_at < $1`,
		`DELETE FROM order_timeline WHERE at < $1`,
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
	rows, err := s.db.QueryContext(ctx, `SELECT tenant, secret_token, MAX(updated_at) AS u FROM passes
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

var _ pass.TaskQueue = (*DB)(nil)
var _ pass.Timeline = (*DB)(nil)
