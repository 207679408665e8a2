package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"walletpass/pass"
)

// QueueCounts counts the tasks that are not done, by tenant, kind and
// state ("" tenant: every tenant's); for pending ones, the oldest due.
func (s *DB) QueueCounts(ctx context.Context, tenant string, now time.Time) ([]pass.QueueCount, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT tenant, kind, state, COUNT(*),
		MIN(CASE WHEN state = 'pending' AND next_attempt_at <= $1 THEN next_attempt_at END)
		FROM tasks WHERE state IN ('pending', 'running', 'dead') AND ($2 = '' OR tenant = $2)
		GROUP BY tenant, kind, state ORDER BY tenant, kind, state`, now.UnixMilli(), tenant)
	if err != nil {
		return nil, fmt.Errorf("storage: queue counts: %w", err)
	}
	defer rows.Close()
	var out []pass.QueueCount
	for rows.Next() {
		var c pass.QueueCount
		var state string
		var due sql.NullInt64
		if err := rows.Scan(&c.Tenant, &c.Kind, &state, &c.Count, &due); err != nil {
			return nil, fmt.Errorf("storage: queue counts: %w", err)
		}
		c.State = pass.TaskState(state)
		if due.Valid {
			c.OldestDue = time.UnixMilli(due.Int64).UTC()
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// TenantTasks lists a tenant's tasks ("" tenant: every tenant's) in a
// state, of a kind ("" for any), most recently changed first.
func (s *DB) TenantTasks(ctx context.Context, tenant string, state pass.TaskState, kind string, limit int) ([]pass.Task, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+taskColumns+` FROM tasks
		WHERE state = $1 AND ($2 = '' OR tenant = $2) AND ($3 = '' OR kind = $3)
		ORDER BY updated_at DESC LIMIT $4`, string(state), tenant, kind, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: tasks: %w", err)
	}
	defer rows.Close()
	var out []pass.Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("storage: tasks: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// GetTask returns a task, or an error of kind NotFound.
func (s *DB) GetTask(ctx context.Context, id string) (*pass.Task, error) {
	t, err := scanTask(s.rdb.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pass.Errorf(pass.KindNotFound, "no task %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: task %s: %w", id, err)
	}
	return &t, nil
}

// DiscardTask deletes a dead or pending task: its work will not be done.
// It returns KindNotFound if there is no such task and KindConflict if it
// is running or done.
func (s *DB) DiscardTask(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM tasks WHERE id = $1 AND state IN ('dead', 'pending')`, id)
	if err != nil {
		return fmt.Errorf("storage: discard task %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	t, err := s.GetTask(ctx, id)
	if err != nil {
		return err
	}
	return pass.Errorf(pass.KindConflict, "task %s is %s", id, t.State)
}

// AddAudit records what an operator did.
func (s *DB) AddAudit(ctx context.Context, e pass.AuditEntry) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO console_audit (id, at, actor, tenant, action, target, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, newID(), e.At.UnixMilli(), e.Actor, e.Tenant, e.Action, e.Target, e.Detail)
	if err != nil {
		return fmt.Errorf("storage: audit: %w", err)
	}
	return nil
}

// AuditLog returns the newest audit entries, of the given tenants (nil:
// every tenant's and those of no tenant).
func (s *DB) AuditLog(ctx context.Context, tenants []string, limit int) ([]pass.AuditEntry, error) {
	q, args := `SELECT at, actor, tenant, action, target, detail FROM console_audit`, []any{}
	if tenants != nil {
		if len(tenants) == 0 {
			return nil, nil
		}
		q += ` WHERE tenant IN (` + placeholders(1, len(tenants)) + `)`
		for _, t := range tenants {
			args = append(args, t)
		}
	}
	args = append(args, limit)
	rows, err := s.rdb.QueryContext(ctx, q+fmt.Sprintf(` ORDER BY at DESC, id LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("storage: audit log: %w", err)
	}
	defer rows.Close()
	var out []pass.AuditEntry
	for rows.Next() {
		var e pass.AuditEntry
		var at int64
		if err := rows.Scan(&at, &e.Actor, &e.Tenant, &e.Action, &e.Target, &e.Detail); err != nil {
			return nil, fmt.Errorf("storage: audit log: %w", err)
		}
		e.At = time.UnixMilli(at).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// RevokeConsoleSession revokes the console session id (signed out) until
// it would have expired; revocations that outlived their session go.
func (s *DB) RevokeConsoleSession(ctx context.Context, id string, until, now time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM console_revocations WHERE kind = 'session' AND until < $1`, now.UnixMilli()); err != nil {
			return fmt.Errorf("storage: console revocation: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO console_revocations (kind, ref, at, until) VALUES ('session', $1, $2, $3)
			ON CONFLICT (kind, ref) DO NOTHING`, id, now.UnixMilli(), until.UnixMilli()); err != nil {
			return fmt.Errorf("storage: console revocation: %w", err)
		}
		return nil
	})
}

// RevokeConsoleSubject revokes every console session of the operator
// subject issued before at.
func (s *DB) RevokeConsoleSubject(ctx context.Context, subject string, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO console_revocations (kind, ref, at, until) VALUES ('subject', $1, $2, 0)
		ON CONFLICT (kind, ref) DO UPDATE SET at = excluded.at`, subject, at.UnixMilli()); err != nil {
		return fmt.Errorf("storage: console revocation: %w", err)
	}
	return nil
}

// ConsoleSessionRevoked reports whether the console session id of subject,
// issued at issued, was revoked.
func (s *DB) ConsoleSessionRevoked(ctx context.Context, id, subject string, issued time.Time) (bool, error) {
	var n int
	err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM console_revocations
		WHERE (kind = 'session' AND ref = $1) OR (kind = 'subject' AND ref = $2 AND at > $3)`, id, subject, issued.UnixMilli()).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("storage: console revocation: %w", err)
	}
	return n > 0, nil
}
