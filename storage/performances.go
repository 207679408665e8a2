package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"walletpass/pass"
)

var (
	_ pass.NoticeStore       = (*DB)(nil)
	_ pass.PerformancePasses = (*DB)(nil)
)

// AddNotice stores a notice and the task that sends it in one
// transaction; a notice already stored under its id is returned as it is.
func (s *DB) AddNotice(ctx context.Context, n pass.Notice, task pass.NewTask) (pass.Notice, bool, error) {
	header, err := json.Marshal(n.Header)
	if err != nil {
		return n, false, fmt.Errorf("storage: notice: %w", err)
	}
	body, err := json.Marshal(n.Body)
	if err != nil {
		return n, false, fmt.Errorf("storage: notice: %w", err)
	}
	created := false
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO performance_notices (tenant, performance_id, notice_id, header, body, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant, performance_id, notice_id) DO NOTHING`,
			n.Tenant, n.PerformanceID, n.ID, string(header), string(body), n.CreatedAt.UnixNano())
		if err != nil {
			return fmt.Errorf("storage: notice: %w", err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return nil
		}
		created = true
		if _, err := s.enqueueTx(ctx, tx, task, n.CreatedAt); err != nil {
			return fmt.Errorf("storage: notice task: %w", err)
		}
		return nil
	})
	if err != nil || created {
		return n, created, err
	}
	old, err := s.notice(ctx, `WHERE tenant = $1 AND performance_id = $2 AND notice_id = $3`, n.Tenant, n.PerformanceID, n.ID)
	if err != nil {
		return n, false, err
	}
	return *old, false, nil
}

// LatestNotice returns the newest notice of a performance, or an error
// wrapping pass.ErrNotFound.
func (s *DB) LatestNotice(ctx context.Context, tenant string, performanceID int64) (*pass.Notice, error) {
	return s.notice(ctx, `WHERE tenant = $1 AND performance_id = $2 ORDER BY created_at DESC, notice_id DESC LIMIT 1`,
		tenant, performanceID)
}

func (s *DB) notice(ctx context.Context, where string, args ...any) (*pass.Notice, error) {
	var n pass.Notice
	var header, body string
	var at int64
	err := s.rdb.QueryRowContext(ctx, `SELECT tenant, performance_id, notice_id, header, body, created_at
		FROM performance_notices `+where, args...).Scan(&n.Tenant, &n.PerformanceID, &n.ID, &header, &body, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("storage: notice: %w", pass.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: notice: %w", err)
	}
	if err := json.Unmarshal([]byte(header), &n.Header); err != nil {
		return nil, fmt.Errorf("storage: notice header: %w", err)
	}
	if err := json.Unmarshal([]byte(body), &n.Body); err != nil {
		return nil, fmt.Errorf("storage: notice body: %w", err)
	}
	n.CreatedAt = time.Unix(0, at).UTC()
	return &n, nil
}

// PerformancePasses returns a page of a performance's passes in serial
// order (see pass.PerformancePasses).
func (s *DB) PerformancePasses(ctx context.Context, tenant string, performanceID int64, after string, limit int) ([]pass.Pass, error) {
	return s.queryPasses(ctx, "passes of performance", `SELECT `+passColumns+` FROM passes WHERE tenant = $1
		AND performance_id = $2 AND serial_number > $3 ORDER BY serial_number LIMIT $4`, tenant, performanceID, after, limit)
}

// PerformanceFingerprint returns the catalogue fingerprint a performance's
// passes were last rewritten with, or an error wrapping pass.ErrNotFound.
func (s *DB) PerformanceFingerprint(ctx context.Context, tenant string, performanceID int64) (string, error) {
	var f string
	err := s.rdb.QueryRowContext(ctx, `SELECT fingerprint FROM performances WHERE tenant = $1 AND performance_id = $2`,
		tenant, performanceID).Scan(&f)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("storage: performance %d: %w", performanceID, pass.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("storage: performance %d: %w", performanceID, err)
	}
	return f, nil
}

// SetPerformanceFingerprint records it.
func (s *DB) SetPerformanceFingerprint(ctx context.Context, tenant string, performanceID int64, fingerprint string, at time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO performances (tenant, performance_id, fingerprint, synced_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant, performance_id) DO UPDATE SET fingerprint = excluded.fingerprint, synced_at = excluded.synced_at`,
			tenant, performanceID, fingerprint, at.UnixMilli())
		if err != nil {
			return fmt.Errorf("storage: performance %d: %w", performanceID, err)
		}
		return nil
	})
}

var _ pass.UpcomingPasses = (*DB)(nil)

// PassesWithUpcoming returns a page of the passes, not voided, whose
// ticket lists upcoming events.
func (s *DB) PassesWithUpcoming(ctx context.Context, tenant, after string, limit int) ([]pass.Pass, error) {
	ps, err := s.queryPasses(ctx, "passes with upcoming events", `SELECT `+passColumns+` FROM passes WHERE tenant = $1
		AND serial_number > $2 AND status <> 'voided' AND ticket_json LIKE '%"upcoming":[%' ORDER BY serial_number LIMIT $3`,
		tenant, after, limit)
	out := ps[:0]
	for _, p := range ps {
		if len(p.Ticket.Upcoming) > 0 {
			out = append(out, p)
		}
	}
	return out, err
}
