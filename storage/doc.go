// Package storage keeps walletpass's state in SQL: passes and their
// versions, device registrations, Google Wallet records, the task queue,
// webhook events and order timelines. Schema changes are goose migrations
// embedded in the binary (SQL files, and migration 22 in Go, which only
// PostgreSQL acts on); the same migrations and (but for task claiming and
// the PostgreSQL-only batches of an event-wide change) the same statements
// run on both databases:
//
//   - SQLite (OpenSQLite, pure Go) is the embedded default, for one
//     process: writes go through one connection and a group committer
//     that batches them, reads through a read-only pool, and pass
//     metadata is cached in memory, which is only correct because this
//     process is the only writer.
//   - PostgreSQL (OpenPostgres, pgx) is for any number of instances
//     sharing one database: webhooks and the queue's small writes are
//     group-committed as on SQLite (a failed batch is retried one write
//     at a time), other writes are transactions of their own (retried on
//     a deadlock), tasks are claimed with FOR UPDATE SKIP LOCKED, nothing is
//     cached in the
//     process, transactions that queue tasks notify the other instances
//     (ListenTasks), an Elector picks the instance that runs singleton
//     jobs, and SecuTixQuota counts every instance's calls to SecuTix
//     against one quota.
//
// Times are BIGINT unix milliseconds and ids TEXT made in Go, so that
// neither database's own types or clock are needed; only the SecuTix
// quota reads PostgreSQL's clock, so that instances whose clocks disagree
// count one window.
//
// Blob stores for signed pass files live in storage/blob and storage/s3.
package storage
