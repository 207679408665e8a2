package storage

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"walletpass/pass"
)

var _ pass.ErasureStore = (*DB)(nil)

// AddErasure records an erasure of holder data that is not complete yet;
// an erasure recorded before is marked not complete again (it is run
// again) and keeps its first time.
func (s *DB) AddErasure(ctx context.Context, tenant, subject string, at time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO holder_erasures (tenant, subject, erased_at) VALUES ($1, $2, $3)
			ON CONFLICT (tenant, subject) DO UPDATE SET completed_at = NULL`, tenant, subject, at.UnixMilli())
		if err != nil {
			return fmt.Errorf("storage: erasure: %w", err)
		}
		return nil
	})
}

// CompleteErasure marks the erasure of subject complete. It returns an
// error wrapping pass.ErrNotFound if subject was not recorded.
func (s *DB) CompleteErasure(ctx context.Context, tenant, subject string, at time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE holder_erasures SET completed_at = $3 WHERE tenant = $1 AND subject = $2`,
			tenant, subject, at.UnixMilli())
		if err != nil {
			return fmt.Errorf("storage: erasure: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("storage: erasure: %w", err)
		} else if n == 0 {
			return fmt.Errorf("storage: erasure of %s: %w", subject, pass.ErrNotFound)
		}
		return nil
	})
}

// placeholders returns "$from, $from+1, …" for n values.
func placeholders(from, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = "$" + strconv.Itoa(from+i)
	}
	return strings.Join(ps, ", ")
}

// Erased reports whether one of the subjects was erased.
func (s *DB) Erased(ctx context.Context, tenant string, subjects ...string) (bool, error) {
	if len(subjects) == 0 {
		return false, nil
	}
	args := []any{tenant}
	for _, sub := range subjects {
		args = append(args, sub)
	}
	var one int
	err := s.rdb.QueryRowContext(ctx, `SELECT 1 FROM holder_erasures WHERE tenant = $1 AND subject IN (`+
		placeholders(2, len(subjects))+`) LIMIT 1`, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("storage: erasure: %w", err)
	}
	return true, nil
}

// HolderPasses returns the passes of an order (fileID not 0) or of the
// holder keys.
func (s *DB) HolderPasses(ctx context.Context, tenant string, fileID int64, keys ...string) ([]pass.Pass, error) {
	q, args := `SELECT `+passColumns+` FROM passes WHERE tenant = $1 AND file_id = $2`, []any{tenant, fileID}
	if fileID == 0 {
		if len(keys) == 0 {
			return nil, nil
		}
		q, args = `SELECT `+passColumns+` FROM passes WHERE tenant = $1 AND holder_key IN (`+placeholders(2, len(keys))+`)`, []any{tenant}
		for _, k := range keys {
			args = append(args, k)
		}
	}
	// "|| ''": sorting the few rows found, not reading the tenant's passes
	// in the primary key's order (SQLite's choice without statistics).
	return s.queryPasses(ctx, "holder's passes", q+` ORDER BY serial_number || ''`, args...)
}

// DropVersionFiles removes the stored forms of a pass's versions before
// before and returns how many, and the keys of those versions' files
// stored before the stored form moved into the database. The keys stay
// recorded until ForgetVersionBlobs: a caller whose deletes fail finds
// them again on its next call.
func (s *DB) DropVersionFiles(ctx context.Context, tenant, serial string, before int) ([]string, int, error) {
	var keys []string
	dropped := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		keys, dropped = keys[:0], 0
		rows, err := tx.QueryContext(ctx, `SELECT blob_key FROM pass_versions WHERE tenant = $1 AND serial_number = $2
			AND version < $3 AND blob_key <> '' ORDER BY version`, tenant, serial, before)
		if err != nil {
			return fmt.Errorf("storage: version files: %w", err)
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return fmt.Errorf("storage: version files: %w", err)
			}
			keys = append(keys, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("storage: version files: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE pass_versions SET content = NULL WHERE tenant = $1 AND serial_number = $2
			AND version < $3 AND content IS NOT NULL`, tenant, serial, before)
		if err != nil {
			return fmt.Errorf("storage: version files: %w", err)
		}
		n, _ := res.RowsAffected()
		dropped = int(n)
		return nil
	})
	return keys, dropped, err
}

// ForgetVersionBlobs clears the keys of the pass's version files that
// were deleted from the blob store.
func (s *DB) ForgetVersionBlobs(ctx context.Context, tenant, serial string, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	args := []any{tenant, serial}
	for _, k := range keys {
		args = append(args, k)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE pass_versions SET blob_key = '' WHERE tenant = $1 AND serial_number = $2
			AND blob_key IN (`+placeholders(3, len(keys))+`)`, args...)
		if err != nil {
			return fmt.Errorf("storage: version files: %w", err)
		}
		return nil
	})
}

// ScrubTimeline replaces each word in the order's timeline with
// "[erased]", whatever its case, and returns how many entries changed.
func (s *DB) ScrubTimeline(ctx context.Context, tenant, secretToken string, words []string) (int, error) {
	var alts []string
	for _, w := range words {
		if w = strings.TrimSpace(w); w != "" {
			alts = append(alts, regexp.QuoteMeta(w))
		}
	}
	if len(alts) == 0 || secretToken == "" {
		return 0, nil
	}
	re := regexp.MustCompile(`(?i)` + strings.Join(alts, "|"))
	n := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		n = 0
		rows, err := tx.QueryContext(ctx, `SELECT id, detail FROM order_timeline WHERE tenant = $1 AND secret_token = $2`, tenant, secretToken)
		if err != nil {
			return fmt.Errorf("storage: timeline: %w", err)
		}
		changed := map[string]string{}
		for rows.Next() {
			var id, detail string
			if err := rows.Scan(&id, &detail); err != nil {
				rows.Close()
				return fmt.Errorf("storage: timeline: %w", err)
			}
			if d := re.ReplaceAllString(detail, "[erased]"); d != detail {
				changed[id] = d
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("storage: timeline: %w", err)
		}
		for id, d := range changed {
			if _, err := tx.ExecContext(ctx, `UPDATE order_timeline SET detail = $1 WHERE id = $2`, d, id); err != nil {
				return fmt.Errorf("storage: timeline: %w", err)
			}
		}
		n = len(changed)
		return nil
	})
	return n, err
}

// ForgetOrderInstallations removes the organiser's app registrations of an
// order and the record of their notices.
func (s *DB) ForgetOrderInstallations(ctx context.Context, tenant, secretToken string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, table := range []string{"app_installations", "app_notices_sent"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE tenant = $1 AND secret_token = $2`, tenant, secretToken); err != nil {
				return fmt.Errorf("storage: forget %s: %w", table, err)
			}
		}
		return nil
	})
}

// ForgetOrderPayloads removes the order's details (a V2 webhook's body)
// from its sync tasks, whatever their state: those with the order's
// secret, file id or order id as their key.
func (s *DB) ForgetOrderPayloads(ctx context.Context, order pass.OrderRef) error {
	var keys []any
	for _, r := range []pass.OrderRef{{SecretToken: order.SecretToken}, {FileID: order.FileID}, {OrderID: order.OrderID}} {
		if r.SecretToken != "" || r.FileID != 0 || r.OrderID != 0 {
			keys = append(keys, r.DedupKey())
		}
	}
	if len(keys) == 0 {
		return nil
	}
	// A V2 webhook's task is keyed by the order's secret or id; erased by
	// its file id alone, an order is found in the details, which name the
	// file (a "fileId" member, at any depth).
	mentions := ""
	if order.FileID != 0 {
		mentions = "%" + strconv.FormatInt(order.FileID, 10) + "%"
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		n := len(keys)
		rows, err := tx.QueryContext(ctx, `SELECT id, payload, dedup_key FROM tasks WHERE tenant = $1 AND kind = $2
			AND (dedup_key IN (`+placeholders(3, n)+`) OR ($`+strconv.Itoa(n+3)+` <> '' AND payload LIKE '%"details":%'
				AND payload LIKE $`+strconv.Itoa(n+3)+`))`, append(append([]any{order.Tenant, pass.TaskSyncOrder}, keys...), mentions)...)
		if err != nil {
			return fmt.Errorf("storage: forget order payloads: %w", err)
		}
		changed := map[string]string{}
		for rows.Next() {
			var id, payload, key string
			if err := rows.Scan(&id, &payload, &key); err != nil {
				rows.Close()
				return fmt.Errorf("storage: forget order payloads: %w", err)
			}
			var ref pass.OrderRef
			if json.Unmarshal([]byte(payload), &ref) != nil || len(ref.Details) == 0 {
				continue
			}
			if !slices.Contains(keys, any(key)) && !namesFile(ref.Details, order.FileID) {
				continue // the number is there, not as the file's id
			}
			ref.Details = nil
			b, err := json.Marshal(ref)
			if err != nil {
				rows.Close()
				return fmt.Errorf("storage: forget order payloads: %w", err)
			}
			changed[id] = string(b)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("storage: forget order payloads: %w", err)
		}
		for id, payload := range changed {
			if _, err := tx.ExecContext(ctx, `UPDATE tasks SET payload = $1 WHERE id = $2`, payload, id); err != nil {
				return fmt.Errorf("storage: forget order payloads: %w", err)
			}
		}
		return nil
	})
}

// HolderDataAfter returns up to limit orders (file ids) whose passes'
// events all ended before endedBefore and whose erasure is not complete
// (not recorded, or stopped half-way). An order with a pass of a later
// event is not listed; one with passes stored before their end was kept
// (event_end 0, migration 11: every pass since has a dated event) is, its
// passes all so or not, for the caller to read its tickets.
func (s *DB) HolderDataAfter(ctx context.Context, tenant string, endedBefore time.Time, limit int) ([]int64, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT DISTINCT p.file_id FROM passes p WHERE p.tenant = $1 AND p.file_id <> 0
		AND p.event_end < $2 AND NOT EXISTS (SELECT 1 FROM passes q WHERE q.tenant = p.tenant
		AND q.file_id = p.file_id AND q.event_end >= $2) AND NOT EXISTS (SELECT 1 FROM holder_erasures e
		WHERE e.tenant = p.tenant AND e.subject = 'file:' || p.file_id AND e.completed_at IS NOT NULL)
		ORDER BY p.file_id LIMIT $3`, tenant, endedBefore.UnixMilli(), limit)
	return int64s(rows, err, "retention")
}

// namesFile reports whether the JSON details hold a "fileId" member
// (at any depth) that is fileID.
func namesFile(details json.RawMessage, fileID int64) bool {
	dec := json.NewDecoder(bytes.NewReader(details))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return false
	}
	want := strconv.FormatInt(fileID, 10)
	var walk func(any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if n, ok := e.(json.Number); ok && k == "fileId" && n.String() == want {
					return true
				}
				if s, ok := e.(string); ok && k == "fileId" && s == want {
					return true
				}
				if walk(e) {
					return true
				}
			}
		case []any:
			for _, e := range x {
				if walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(v)
}
