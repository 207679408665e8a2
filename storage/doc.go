// Package storage keeps walletpass's state in SQL: passes and their
// versions (and, as the service grows, registrations, tasks and events).
// The same SQL runs on SQLite (the embedded default, pure Go) and
// PostgreSQL; schema changes are goose migrations embedded in the binary.
//
// Blob stores for signed pass files live in storage/blob.
package storage
