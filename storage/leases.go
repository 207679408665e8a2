package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"walletpass/pass"
)

var _ pass.Leases = (*DB)(nil)

// TakeLease lends name to holder until until, unless another holder's
// lease of it lasts after now, and reports whether holder has it.
func (s *DB) TakeLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	var taken bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE leases.holder = excluded.holder OR leases.expires_at <= $4`,
			name, holder, until.UnixMilli(), now.UnixMilli())
		if err != nil {
			return fmt.Errorf("storage: lease %s: %w", name, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("storage: lease %s: %w", name, err)
		}
		taken = n == 1
		return nil
	})
	return taken, err
}

// ReleaseLease ends holder's lease of name.
func (s *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder); err != nil {
			return fmt.Errorf("storage: lease %s: %w", name, err)
		}
		return nil
	})
}
