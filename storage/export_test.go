package storage

import (
	"context"
	"database/sql"
)

// InTx runs fn in a transaction of s, as the store's methods do.
func InTx(ctx context.Context, s *DB, fn func(*sql.Tx) error) error { return s.inTx(ctx, fn) }
