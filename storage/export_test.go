package storage

import (
	"context"
	"database/sql"

	"walletpass/pass"
)

// InTx runs fn in a transaction of s, as the store's methods do.
func InTx(ctx context.Context, s *DB, fn func(*sql.Tx) error) error { return s.inTx(ctx, fn) }

// GroupCommit commits fns as one batch of the store's group committer and
// returns each one's error.
func GroupCommit(s *DB, fns ...func(ctx context.Context, tx *sql.Tx) error) []error {
	batch := make([]writeReq, len(fns))
	for i, fn := range fns {
		batch[i] = writeReq{done: make(chan writeResult, 1), fn: func(ctx context.Context, tx *sql.Tx) (pass.Enqueued, error) {
			return pass.Enqueued{}, fn(ctx, tx)
		}}
	}
	s.group.commit(batch)
	errs := make([]error, len(fns))
	for i, r := range batch {
		errs[i] = (<-r.done).err
	}
	return errs
}

// Renumber is renumber.
var Renumber = renumber
