package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"walletpass/pass"
)

// The SecuTix catalogue cache (see secutix.CatalogStore): one row per
// institution, holding the last getCatalogDetailed answer and when an
// instance last tried to read it.

// ClaimCatalogFetch reports whether the caller may read the catalogue of
// key now: no instance tried in the last interval. A true answer records
// the attempt, so that of several instances asking at once one gets it;
// a false one says when the last attempt was.
func (s *DB) ClaimCatalogFetch(ctx context.Context, key string, now time.Time, interval time.Duration) (bool, time.Time, error) {
	claimed := false
	var last int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		at := now.UnixMilli()
		res, err := tx.ExecContext(ctx, `UPDATE secutix_catalogs SET attempted_at = $2 WHERE key = $1 AND attempted_at <= $3`,
			key, at, at-interval.Milliseconds())
		if err != nil {
			return fmt.Errorf("storage: claim the catalogue: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			claimed = true
			return nil
		}
		res, err = tx.ExecContext(ctx, `INSERT INTO secutix_catalogs (key, body, stamp, fetched_at, attempted_at)
			VALUES ($1, '', '', 0, $2) ON CONFLICT DO NOTHING`, key, at)
		if err != nil {
			return fmt.Errorf("storage: claim the catalogue: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			claimed = true
			return nil
		}
		if err := tx.QueryRowContext(ctx, `SELECT attempted_at FROM secutix_catalogs WHERE key = $1`, key).Scan(&last); err != nil {
			return fmt.Errorf("storage: claim the catalogue: %w", err)
		}
		return nil
	})
	if claimed || err != nil {
		return claimed, time.Time{}, err
	}
	return false, time.UnixMilli(last), nil
}

// SaveCatalog stores a catalogue read at fetchedAt with its setup stamp.
func (s *DB) SaveCatalog(ctx context.Context, key string, body []byte, stamp string, fetchedAt time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO secutix_catalogs (key, body, stamp, fetched_at, attempted_at)
			VALUES ($1, $2, $3, $4, $4)
			ON CONFLICT (key) DO UPDATE SET body = excluded.body, stamp = excluded.stamp, fetched_at = excluded.fetched_at
			WHERE secutix_catalogs.fetched_at <= excluded.fetched_at`,
			key, string(body), stamp, fetchedAt.UnixMilli()); err != nil {
			return fmt.Errorf("storage: save the catalogue: %w", err)
		}
		return nil
	})
}

// CatalogFetchedAt returns when the stored catalogue of key was read, or
// an error wrapping pass.ErrNotFound when there is none.
func (s *DB) CatalogFetchedAt(ctx context.Context, key string) (time.Time, error) {
	var at int64
	err := s.rdb.QueryRowContext(ctx, `SELECT fetched_at FROM secutix_catalogs WHERE key = $1 AND fetched_at > 0`, key).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, pass.Wrap(pass.KindNotFound, pass.ErrNotFound, "storage: no stored catalogue")
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("storage: the catalogue's time: %w", err)
	}
	return time.UnixMilli(at), nil
}

// LoadCatalog returns the stored catalogue of key; an error wrapping
// pass.ErrNotFound when none was stored.
func (s *DB) LoadCatalog(ctx context.Context, key string) (body []byte, stamp string, fetchedAt time.Time, err error) {
	var b string
	var at int64
	err = s.rdb.QueryRowContext(ctx, `SELECT body, stamp, fetched_at FROM secutix_catalogs WHERE key = $1 AND fetched_at > 0`, key).
		Scan(&b, &stamp, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", time.Time{}, pass.Wrap(pass.KindNotFound, pass.ErrNotFound, "storage: no stored catalogue")
	}
	if err != nil {
		return nil, "", time.Time{}, fmt.Errorf("storage: load the catalogue: %w", err)
	}
	return []byte(b), stamp, time.UnixMilli(at), nil
}
