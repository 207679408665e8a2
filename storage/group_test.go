package storage_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"

	"walletpass/storage"
)

// A batch of the group committer in which one write fails on purpose and
// another breaks a constraint: the others commit, each failed one gets
// its own error and leaves nothing behind. A batch without failures runs
// each write once.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	forEachStore(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		runs := map[string]int{}
		insert := func(id string) func(ctx context.Context, tx *sql.Tx) error {
			return func(ctx context.Context, tx *sql.Tx) error {
				runs[id]++
				_, err := tx.ExecContext(ctx, `INSERT INTO order_timeline (id, tenant, secret_token, file_id, at, kind, correlation_id, detail)
					VALUES ($1, 'demo', 'S', 1, 1, 'test', '', '')`, id)
				return err
			}
		}
		refused := errors.New("refused")
		errs := storage.GroupCommit(db,
			insert("a"),
			func(ctx context.Context, tx *sql.Tx) error {
				if err := insert("b")(ctx, tx); err != nil {
					return err
				}
				return refused
			},
			insert("c"),
			insert("a"), // a duplicate key
			insert("d"),
		)
		if errs[0] != nil || !errors.Is(errs[1], refused) || errs[2] != nil || errs[3] == nil || errs[4] != nil {
			t.Fatalf("errors = %v; want nil, refused, nil, a duplicate key, nil", errs)
		}
		ids := func() []string {
			var out []string
			err := storage.InTx(ctx, db, func(tx *sql.Tx) error {
				rows, err := tx.QueryContext(ctx, `SELECT id FROM order_timeline ORDER BY id`)
				if err != nil {
					return err
				}
				defer rows.Close()
				for rows.Next() {
					var id string
					if err := rows.Scan(&id); err != nil {
						return err
					}
					out = append(out, id)
				}
				return rows.Err()
			})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		if got := ids(); !slices.Equal(got, []string{"a", "c", "d"}) {
			t.Errorf("rows %v, want a c d", got)
		}

		clear(runs)
		if errs := storage.GroupCommit(db, insert("e"), insert("f"), insert("g")); errors.Join(errs...) != nil {
			t.Fatal(errs)
		}
		if runs["e"] != 1 || runs["f"] != 1 || runs["g"] != 1 {
			t.Errorf("a batch without failures ran its writes %v times, want once each", runs)
		}
		if got := ids(); !slices.Equal(got, []string{"a", "c", "d", "e", "f", "g"}) {
			t.Errorf("rows %v, want a c d e f g", got)
		}
	})
}

func TestRenumber(t *testing.T) {
	for in, want := range map[string]string{
		"VALUES ($1, $2, $10)":     "VALUES ($12, $13, $21)",
		"CAST($8 AS BIGINT) > $6)": "CAST($19 AS BIGINT) > $17)",
		"a '$' b $":                "a '$' b $",
		"":                         "",
	} {
		if got := storage.Renumber(in, 11); got != want {
			t.Errorf("Renumber(%q, 11) = %q, want %q", in, got, want)
		}
	}
}
