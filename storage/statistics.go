package storage

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// firstStatisticsRows is how many rows a table written since it was
// created (or last analysed, nearly empty) must hold before
// FirstStatistics analyses it.
const firstStatisticsRows = 500

// FirstStatistics gives PostgreSQL its first statistics of the store's
// tables sooner than autovacuum would: it analyses each table of the
// store's schema that was never analysed (by autovacuum or anyone) and
// has had at least firstStatisticsRows rows written, and returns their
// names. Until then PostgreSQL plans as if the tables were empty, and on
// such plans a ticket's pass is found, and a pass updated, through an
// index on the tenant alone, reading every pass of the tenant
// (TestPassQueryPlans); autovacuum's first analysis may come a minute
// later. The same holds for a table analysed while (nearly) empty, as a
// message table purged of its delivered messages is, that has since had
// ten times as many rows written as it held then, and firstStatisticsRows
// at least: with no statistics of its columns, PostgreSQL marked a
// subscription's messages delivered by walking all of them
// (TestStaleStatistics). Other tables autovacuum keeps, and this leaves
// them alone, and so it does the tables the role may not analyse (it
// owns neither them nor the database, nor has PostgreSQL 17's MAINTAIN
// on them): PostgreSQL would skip them with a warning, and they would be
// found again every time. On SQLite, which plans these
// statements by their keys without statistics, it does nothing.
func (s *DB) FirstStatistics(ctx context.Context) ([]string, error) {
	if !s.isPostgres() {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT s.relname FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid
		WHERE s.schemaname = current_schema() AND s.n_mod_since_analyze >= $1
		AND (pg_has_role(c.relowner, 'USAGE')
			OR pg_has_role((SELECT datdba FROM pg_database WHERE datname = current_database()), 'USAGE')
			OR CASE WHEN current_setting('server_version_num')::int >= 170000 THEN has_table_privilege(c.oid, 'MAINTAIN') ELSE false END)
		AND ((s.last_analyze IS NULL AND s.last_autoanalyze IS NULL) OR c.reltuples * 10 < s.n_mod_since_analyze)
		ORDER BY s.relname`, firstStatisticsRows)
	if err != nil {
		return nil, fmt.Errorf("storage: first statistics: %w", err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return nil, fmt.Errorf("storage: first statistics: %w", err)
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage: first statistics: %w", err)
	}
	// An ANALYZE reads a sample of bounded size; once started it finishes,
	// even past the caller's deadline, or a large table on a slow disk
	// would be started again and again.
	for i, t := range tables {
		if _, err := s.db.ExecContext(context.WithoutCancel(ctx), `ANALYZE `+pgx.Identifier{t}.Sanitize()); err != nil {
			return tables[:i], fmt.Errorf("storage: analyse %s: %w", t, err)
		}
	}
	return tables, nil
}
