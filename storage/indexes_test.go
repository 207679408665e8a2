package storage_test

import (
	"context"
	"testing"
)

// TestNoDuplicateIndexes checks, on both stores after every migration,
// that no two full indexes of a table have the same columns in the same
// order (a unique constraint's own index included): the second costs
// every write and serves no read.
func TestNoDuplicateIndexes(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d testDB) {
		ctx := context.Background()
		d.handle(t) // migrated
		q := `SELECT m.name, il.name, (SELECT group_concat(name, ',') FROM
				(SELECT name FROM pragma_index_info(il.name) ORDER BY seqno))
			FROM sqlite_master m, pragma_index_list(m.name) il WHERE m.type = 'table' AND il.partial = 0`
		if d.name == "postgres" {
			q = `SELECT c.relname, ic.relname, i.indkey::text FROM pg_index i
				JOIN pg_class c ON c.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid
				JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE n.nspname = current_schema() AND i.indpred IS NULL`
		}
		rows, err := d.raw(t).QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		seen := map[[2]string]string{}
		n := 0
		for rows.Next() {
			var table, index, cols string
			if err := rows.Scan(&table, &index, &cols); err != nil {
				t.Fatal(err)
			}
			n++
			if other, ok := seen[[2]string{table, cols}]; ok {
				t.Errorf("%s: indexes %s and %s have the same columns (%s)", table, other, index, cols)
			}
			seen[[2]string{table, cols}] = index
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if n < 20 {
			t.Fatalf("read %d indexes, want the schema's (at least 20)", n)
		}
	})
}
