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

// GoogleObject returns the record of a pass's Google Wallet object, or an
// error wrapping pass.ErrNotFound.
func (s *DB) GoogleObject(ctx context.Context, tenant, serial string) (*pass.GoogleObject, error) {
	o := pass.GoogleObject{Tenant: tenant, Serial: serial}
	var notified string
	var expires, updated int64
	err := s.rdb.QueryRowContext(ctx, `SELECT object_id, class_id, version, state, shown, notified, expires_at, updated_at
		FROM google_objects WHERE tenant = $1 AND serial_number = $2`, tenant, serial).Scan(
		&o.ObjectID, &o.ClassID, &o.Version, &o.State, &o.Shown, &notified, &expires, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("storage: google object of %s: %w", serial, pass.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: google object of %s: %w", serial, err)
	}
	var ms []int64
	if err := json.Unmarshal([]byte(notified), &ms); err != nil {
		return nil, fmt.Errorf("storage: google object of %s: notified: %w", serial, err)
	}
	for _, m := range ms {
		o.Notified = append(o.Notified, time.UnixMilli(m).UTC())
	}
	if expires != 0 {
		o.ExpiresAt = time.UnixMilli(expires).UTC()
	}
	o.UpdatedAt = time.UnixMilli(updated).UTC()
	return &o, nil
}

// PutGoogleObject creates or replaces the record of a pass's object.
func (s *DB) PutGoogleObject(ctx context.Context, o *pass.GoogleObject) error {
	ms := make([]int64, 0, len(o.Notified))
	for _, t := range o.Notified {
		ms = append(ms, t.UnixMilli())
	}
	notified, _ := json.Marshal(ms) // ints always marshal
	var expires int64
	if !o.ExpiresAt.IsZero() {
		expires = o.ExpiresAt.UnixMilli()
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO google_objects (tenant, serial_number, object_id, class_id, version, state,
			shown, notified, expires_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (tenant, serial_number) DO UPDATE SET object_id = excluded.object_id, class_id = excluded.class_id,
			version = excluded.version, state = excluded.state, shown = excluded.shown, notified = excluded.notified,
			expires_at = excluded.expires_at, updated_at = excluded.updated_at`,
			o.Tenant, o.Serial, o.ObjectID, o.ClassID, o.Version, o.State, o.Shown, string(notified), expires, o.UpdatedAt.UnixMilli())
		if err != nil {
			return fmt.Errorf("storage: google object of %s: %w", o.Serial, err)
		}
		return nil
	})
}

// GoogleClassHash returns the content hash of a class as last sent, or an
// error wrapping pass.ErrNotFound.
func (s *DB) GoogleClassHash(ctx context.Context, tenant, classID string) (string, error) {
	var h string
	err := s.rdb.QueryRowContext(ctx, `SELECT content_hash FROM google_classes WHERE tenant = $1 AND class_id = $2`,
		tenant, classID).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("storage: google class %s: %w", classID, pass.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("storage: google class %s: %w", classID, err)
	}
	return h, nil
}

// PutGoogleClassHash records a class as sent.
func (s *DB) PutGoogleClassHash(ctx context.Context, tenant, classID, hash string, at time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO google_classes (tenant, class_id, content_hash, updated_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT (tenant, class_id) DO UPDATE SET content_hash = excluded.content_hash,
			updated_at = excluded.updated_at`, tenant, classID, hash, at.UnixMilli())
		if err != nil {
			return fmt.Errorf("storage: google class %s: %w", classID, err)
		}
		return nil
	})
}

// GoogleExpiring returns up to limit objects shown as ACTIVE whose expiry
// is not after now.
func (s *DB) GoogleExpiring(ctx context.Context, now time.Time, limit int) ([]pass.GoogleArgs, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT tenant, serial_number FROM google_objects
		WHERE state = 'ACTIVE' AND expires_at > 0 AND expires_at <= $1 ORDER BY expires_at LIMIT $2`, now.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("storage: expiring google objects: %w", err)
	}
	defer rows.Close()
	var out []pass.GoogleArgs
	for rows.Next() {
		var r pass.GoogleArgs
		if err := rows.Scan(&r.Tenant, &r.Serial); err != nil {
			return nil, fmt.Errorf("storage: expiring google objects: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RecordGoogleCallback stores a Google Wallet callback once per nonce and
// adds a google-saved or google-deleted entry to the timeline of the
// order whose pass has the object. fresh is false for a replay.
func (s *DB) RecordGoogleCallback(ctx context.Context, c pass.GoogleCallback) (fresh bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO google_callbacks (tenant, nonce, object_id, class_id, event_type, received_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant, nonce) DO NOTHING`,
			c.Tenant, c.Nonce, c.ObjectID, c.ClassID, c.EventType, c.ReceivedAt.UnixMilli())
		if err != nil {
			return fmt.Errorf("storage: google callback: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		fresh = true
		var secret, serial string
		var fileID int64
		err = tx.QueryRowContext(ctx, `SELECT p.secret_token, p.file_id, p.serial_number FROM google_objects g
			JOIN passes p ON p.tenant = g.tenant AND p.serial_number = g.serial_number
			WHERE g.tenant = $1 AND g.object_id = $2`, c.Tenant, c.ObjectID).Scan(&secret, &fileID, &serial)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // not an object of ours (any more): kept, counted, in no timeline
		}
		if err != nil {
			return fmt.Errorf("storage: google callback: %w", err)
		}
		kind := "google-saved"
		if c.EventType == pass.GoogleDeleted {
			kind = "google-deleted"
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO order_timeline (id, tenant, secret_token, file_id, at, kind, correlation_id, detail)
			VALUES ($1, $2, $3, $4, $5, $6, '', $7)`, newID(), c.Tenant, secret, fileID, c.ReceivedAt.UnixMilli(), kind,
			"serial="+serial+" object="+c.ObjectID)
		if err != nil {
			return fmt.Errorf("storage: google callback: timeline: %w", err)
		}
		return nil
	})
	return fresh, err
}

// GoogleWalletCounts counts a tenant's Google Wallet callbacks, and the
// objects whose last callback was a save.
func (s *DB) GoogleWalletCounts(ctx context.Context, tenant string) (pass.GoogleWalletCounts, error) {
	var c pass.GoogleWalletCounts
	err := s.rdb.QueryRowContext(ctx, `SELECT
			COUNT(CASE WHEN event_type = 'save' THEN 1 END), COUNT(CASE WHEN event_type = 'del' THEN 1 END)
		FROM google_callbacks WHERE tenant = $1`, tenant).Scan(&c.Saves, &c.Deletes)
	if err != nil {
		return c, fmt.Errorf("storage: google counts: %w", err)
	}
	// The last callback of each object (by time, then nonce) says whether
	// it is in a wallet.
	err = s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM google_callbacks c
		WHERE c.tenant = $1 AND c.event_type = 'save' AND NOT EXISTS (SELECT 1 FROM google_callbacks d
			WHERE d.tenant = c.tenant AND d.object_id = c.object_id
			AND (d.received_at > c.received_at OR (d.received_at = c.received_at AND d.nonce > c.nonce)))`, tenant).Scan(&c.InWallets)
	if err != nil {
		return c, fmt.Errorf("storage: google counts: %w", err)
	}
	return c, nil
}
