package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"
)

// contentCompressionVersion is the migration that has PostgreSQL compress
// new stored forms with lz4 (the SQL files hold the others).
const contentCompressionVersion = 22

// contentCompression is migration 22. PostgreSQL compresses a value of
// more than about 2 KB before storing it, with pglz unless told otherwise,
// and a version's stored form is about 7 KB: an event-wide change of
// 10,000 passes took 1.96 × the time of signing them with pglz, 1.75 ×
// with lz4, which compresses much faster (docs/benchmarks.md). lz4 is
// PostgreSQL 14's and later's, where the server was built with it;
// elsewhere, and on SQLite, the migration changes nothing. Only values
// written afterwards are compressed with it.
func contentCompression(postgres bool) *goose.Migration {
	set := func(method string) func(context.Context, *sql.Tx) error {
		return func(ctx context.Context, tx *sql.Tx) error {
			if !postgres {
				return nil
			}
			var lz4 bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_settings
				WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals))`).Scan(&lz4); err != nil {
				return fmt.Errorf("storage: lz4 support: %w", err)
			}
			if !lz4 {
				return nil
			}
			_, err := tx.ExecContext(ctx, `ALTER TABLE pass_versions ALTER COLUMN content SET COMPRESSION `+method)
			return err
		}
	}
	return goose.NewGoMigration(contentCompressionVersion, &goose.GoFunc{RunTx: set("lz4")}, &goose.GoFunc{RunTx: set("default")})
}
