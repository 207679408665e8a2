package storage_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"walletpass/storage"
)

// envPostgres names the environment variable with the DSN of the
// PostgreSQL database the store tests use (scripts/ci-postgres.sh prints
// one). Each test gets a schema of its own there, dropped at its end.
const envPostgres = "WALLETPASS_TEST_POSTGRES"

// testDB is one isolated database of a backend: a SQLite file, or a
// PostgreSQL schema. Every handle opened on it sees the same data, like
// two instances of the service.
type testDB struct {
	name string // "sqlite" or "postgres"
	path string // SQLite
	dsn  string // PostgreSQL, with the test's search_path
	// schema is the PostgreSQL schema, also the application_name of the
	// test's connections (to find them in pg_stat_activity).
	schema   string
	adminDSN string // the DSN of WALLETPASS_TEST_POSTGRES
}

// open opens a new handle; the caller closes it.
func (d testDB) open(ctx context.Context) (*storage.DB, error) {
	if d.name == "postgres" {
		return storage.OpenPostgres(ctx, d.dsn)
	}
	return storage.OpenSQLite(ctx, d.path)
}

// handle opens a new handle, closed when the test ends.
func (d testDB) handle(t *testing.T) *storage.DB {
	t.Helper()
	db, err := d.open(context.Background())
	if err != nil {
		t.Fatalf("open %s store: %v", d.name, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// raw opens the database itself, without the store (for catalogue
// queries and EXPLAIN), closed when the test ends.
func (d testDB) raw(t *testing.T) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite", d.path
	if d.name == "postgres" {
		driver, dsn = "pgx", d.dsn
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("open %s database: %v", d.name, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// forEachStore runs fn as the subtests "sqlite" and "postgres", each with
// a fresh store.
func forEachStore(t *testing.T, fn func(t *testing.T, db *storage.DB)) {
	t.Helper()
	forEachBackend(t, func(t *testing.T, d testDB) { fn(t, d.handle(t)) })
}

// forEachBackend runs fn as the subtests "sqlite" and "postgres", each
// with a fresh database to open handles on.
func forEachBackend(t *testing.T, fn func(t *testing.T, d testDB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, sqliteDB(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, postgresDB(t)) })
}

func sqliteDB(t *testing.T) testDB {
	return testDB{name: "sqlite", path: filepath.Join(t.TempDir(), "test.db")}
}

// postgresDB creates a schema for the test in the database of
// WALLETPASS_TEST_POSTGRES. Without it, the test is skipped, except in CI
// (CI=true), where a suite that needs PostgreSQL must fail if it is
// missing.
func postgresDB(t *testing.T) testDB {
	t.Helper()
	dsn := os.Getenv(envPostgres)
	if dsn == "" {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("%s is not set: the store tests need PostgreSQL in CI (scripts/ci-postgres.sh prints a DSN)", envPostgres)
		}
		t.Skipf("%s is not set: PostgreSQL skipped", envPostgres)
	}
	admin, err := adminDB(dsn)
	if err != nil {
		t.Fatalf("%s: %v", envPostgres, err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	return testDB{name: "postgres", dsn: testDSN(dsn, schema), schema: schema, adminDSN: dsn}
}

var admin struct {
	once sync.Once
	db   *sql.DB
	err  error
}

// adminDB returns the pool that creates and drops test schemas.
func adminDB(dsn string) (*sql.DB, error) {
	admin.once.Do(func() {
		admin.db, admin.err = sql.Open("pgx", dsn) // the driver the storage package registers
		if admin.err == nil {
			admin.db.SetMaxOpenConns(2)
			admin.err = admin.db.Ping()
		}
	})
	return admin.db, admin.err
}

// testDSN adds search_path=schema and application_name=schema to a DSN in
// URL or keyword/value form.
func testDSN(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			q.Set("application_name", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " search_path=" + schema + " application_name=" + schema
}
