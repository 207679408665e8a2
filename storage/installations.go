package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"walletpass/pass"
)

// RegisterInstallation records an app installation for an order's
// notices; created is false when it was registered already (its platform
// and locale are updated). A new installation of an order that has
// pass.MaxInstallationsPerOrder already is refused with an error of kind
// pass.KindConflict.
//
// The count and the insert are one transaction that holds the order's
// lock: on PostgreSQL a transaction advisory lock of the order (at READ
// COMMITTED, two transactions counting at once would otherwise both see
// room), on SQLite the write lock every transaction takes as it begins.
func (s *DB) RegisterInstallation(ctx context.Context, d pass.AppInstallation, follow ...pass.NewTask) (bool, error) {
	created := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockInTx(ctx, tx, "app-installations\x00"+d.Tenant+"\x00"+d.SecretToken); err != nil {
			return fmt.Errorf("storage: lock the order's app installations: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE app_installations SET platform = $4, locale = $5
			WHERE tenant = $1 AND secret_token = $2 AND fcm_token = $3`, d.Tenant, d.SecretToken, d.FCMToken, d.Platform, d.Locale)
		if err != nil {
			return fmt.Errorf("storage: app installation: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		var total int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM app_installations WHERE tenant = $1 AND secret_token = $2`,
			d.Tenant, d.SecretToken).Scan(&total); err != nil {
			return fmt.Errorf("storage: app installations of the order: %w", err)
		}
		if total >= pass.MaxInstallationsPerOrder {
			return pass.Errorf(pass.KindConflict, "the order has %d app installations registered already, the most it may have; unregister one first", total)
		}
		res, err = tx.ExecContext(ctx, `INSERT INTO app_installations (tenant, secret_token, fcm_token, platform, locale, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
			d.Tenant, d.SecretToken, d.FCMToken, d.Platform, d.Locale, d.CreatedAt.UnixMilli())
		if err != nil {
			return fmt.Errorf("storage: app installation: %w", err)
		}
		n, _ := res.RowsAffected()
		created = n == 1 // another instance may have inserted it first
		if created {
			return s.enqueueAll(ctx, tx, follow, d.CreatedAt)
		}
		return nil
	})
	return created, err
}

// UnregisterInstallation removes an app installation's registration.
func (s *DB) UnregisterInstallation(ctx context.Context, tenant, secretToken, fcmToken string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM app_installations WHERE tenant = $1 AND secret_token = $2 AND fcm_token = $3`,
			tenant, secretToken, fcmToken); err != nil {
			return fmt.Errorf("storage: unregister app installation: %w", err)
		}
		return nil
	})
}

// Installations returns the app installations registered for an order.
func (s *DB) Installations(ctx context.Context, tenant, secretToken string) ([]pass.AppInstallation, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT fcm_token, platform, locale, created_at FROM app_installations
		WHERE tenant = $1 AND secret_token = $2 ORDER BY created_at, fcm_token`, tenant, secretToken)
	if err != nil {
		return nil, fmt.Errorf("storage: app installations: %w", err)
	}
	defer rows.Close()
	var out []pass.AppInstallation
	for rows.Next() {
		d := pass.AppInstallation{Tenant: tenant, SecretToken: secretToken}
		var created int64
		if err := rows.Scan(&d.FCMToken, &d.Platform, &d.Locale, &created); err != nil {
			return nil, fmt.Errorf("storage: app installations: %w", err)
		}
		d.CreatedAt = time.UnixMilli(created).UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}

// ForgetFCMToken removes every registration of a token FCM said is gone.
func (s *DB) ForgetFCMToken(ctx context.Context, tenant, fcmToken string) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM app_installations WHERE tenant = $1 AND fcm_token = $2`, tenant, fcmToken)
		if err != nil {
			return fmt.Errorf("storage: forget FCM token: %w", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}

// NoticeSent reports whether the device had the order's notice.
func (s *DB) NoticeSent(ctx context.Context, tenant, secretToken, event, fcmToken string) (bool, error) {
	var one int
	err := s.rdb.QueryRowContext(ctx, `SELECT 1 FROM app_notices_sent WHERE tenant = $1 AND secret_token = $2 AND event = $3
		AND fcm_token = $4`, tenant, secretToken, event, fcmToken).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("storage: notice: %w", err)
	}
	return true, nil
}

// MarkNoticeSent records that the device had the order's notice.
func (s *DB) MarkNoticeSent(ctx context.Context, tenant, secretToken, event, fcmToken string, at time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO app_notices_sent (tenant, secret_token, event, fcm_token, sent_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, tenant, secretToken, event, fcmToken, at.UnixMilli()); err != nil {
			return fmt.Errorf("storage: notice: %w", err)
		}
		return nil
	})
}

var _ pass.InstallationStore = (*DB)(nil)

// APIKey is a tenant's API key as stored: its hash, never the key.
type APIKey struct {
	Tenant, ID, Name, Hash string
	// Scopes are what the key may do (OAuth scope names); none means
	// tickets:read, what keys were for before they had scopes.
	Scopes               []string
	CreatedAt, RevokedAt time.Time
}

// scopesText stores scopes space-separated, tickets:read when none.
func scopesText(scopes []string) string {
	if len(scopes) == 0 {
		return "tickets:read"
	}
	return strings.Join(scopes, " ")
}

// CreateAPIKey stores a key's hash under a new id.
func (s *DB) CreateAPIKey(ctx context.Context, k APIKey) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO api_keys (tenant, id, name, key_hash, created_at, scopes) VALUES ($1, $2, $3, $4, $5, $6)`,
			k.Tenant, k.ID, k.Name, k.Hash, k.CreatedAt.UnixMilli(), scopesText(k.Scopes)); err != nil {
			return fmt.Errorf("storage: api key: %w", err)
		}
		return nil
	})
}

// RevokeAPIKey revokes a key by id; it returns an error wrapping
// pass.ErrNotFound if the tenant has no such key.
func (s *DB) RevokeAPIKey(ctx context.Context, tenant, id string, at time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $3 WHERE tenant = $1 AND id = $2 AND revoked_at = 0`,
			tenant, id, at.UnixMilli())
		if err != nil {
			return fmt.Errorf("storage: revoke api key: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("storage: api key %s of %s: %w", id, tenant, pass.ErrNotFound)
		}
		return nil
	})
}

// APIKeyByHash returns the key with this hash, or an error wrapping
// pass.ErrNotFound.
func (s *DB) APIKeyByHash(ctx context.Context, hash string) (*APIKey, error) {
	k := APIKey{Hash: hash}
	var created, revoked int64
	var scopes string
	err := s.rdb.QueryRowContext(ctx, `SELECT tenant, id, name, created_at, revoked_at, scopes FROM api_keys WHERE key_hash = $1`, hash).
		Scan(&k.Tenant, &k.ID, &k.Name, &created, &revoked, &scopes)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("storage: api key: %w", pass.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: api key: %w", err)
	}
	k.CreatedAt = time.UnixMilli(created).UTC()
	if revoked != 0 {
		k.RevokedAt = time.UnixMilli(revoked).UTC()
	}
	k.Scopes = strings.Fields(scopes)
	return &k, nil
}

// APIKeys lists a tenant's keys, newest first.
func (s *DB) APIKeys(ctx context.Context, tenant string) ([]APIKey, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, name, key_hash, created_at, revoked_at, scopes FROM api_keys WHERE tenant = $1
		ORDER BY created_at DESC, id`, tenant)
	if err != nil {
		return nil, fmt.Errorf("storage: api keys: %w", err)
	}
	defer rows.Close()
	var out []APIKey
	for rows.Next() {
		k := APIKey{Tenant: tenant}
		var created, revoked int64
		var scopes string
		if err := rows.Scan(&k.ID, &k.Name, &k.Hash, &created, &revoked, &scopes); err != nil {
			return nil, fmt.Errorf("storage: api keys: %w", err)
		}
		k.CreatedAt = time.UnixMilli(created).UTC()
		if revoked != 0 {
			k.RevokedAt = time.UnixMilli(revoked).UTC()
		}
		k.Scopes = strings.Fields(scopes)
		out = append(out, k)
	}
	return out, rows.Err()
}
