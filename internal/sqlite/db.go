package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/parley-im/parley"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// readers is the size of the read-only connection pool. Reads are short
// index lookups; a few connections keep the CPU busy without each one
// holding its own page cache for nothing.
const readers = 4

// Limits on the number of rows one read returns.
const (
	defaultLimit = 50
	maxLimit     = 1000
)

// DB is a parley.Store on one SQLite file. Create it with Open; it is safe
// for concurrent use (see the package comment for how reads and writes
// interleave).
type DB struct {
	w  *sql.DB // one connection; every transaction is BEGIN IMMEDIATE
	r  *sql.DB // query-only readers
	st *appendStmts
	// changes are Changes' two statements, prepared once on the readers
	// (database/sql prepares them on each reader connection as needed).
	changes [2]*sql.Stmt
	// reads caches prepared read statements by their text (readStmt):
	// modernc's SQLite parses a statement anew on every unprepared
	// query, which profiles showed costing more than running it for the
	// small lookups presence makes per user. The texts are constants, so
	// the cache is bounded by the code.
	reads sync.Map // string -> *sql.Stmt
}

// readStmt returns query prepared on the readers, preparing it once.
func (db *DB) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := db.reads.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.r.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if old, loaded := db.reads.LoadOrStore(query, st); loaded {
		_ = st.Close()
		return old.(*sql.Stmt), nil
	}
	return st, nil
}

var _ parley.Store = (*DB)(nil)

// Open opens the SQLite file at path, creating it if needed, applies every
// pending migration and returns the store. The caller must Close it.
func Open(ctx context.Context, path string) (*DB, error) {
	const op = "sqlite.Open"
	w, err := openWriter(path)
	if err != nil {
		return nil, internal(op, err)
	}
	if _, err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, internal(op, err)
	}
	r, err := sql.Open("sqlite", dsn(path, "_pragma=busy_timeout(5000)&_pragma=foreign_keys(ON)&_query_only=1"))
	if err != nil {
		w.Close()
		return nil, internal(op, err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, internal(op, err)
	}
	st, err := prepareAppend(ctx, w)
	if err != nil {
		w.Close()
		r.Close()
		return nil, internal(op, err)
	}
	db := &DB{w: w, r: r, st: st}
	for i, q := range []string{changesDirect, changesGroups} {
		if db.changes[i], err = r.PrepareContext(ctx, q); err != nil {
			_ = db.Close()
			return nil, internal(op, err)
		}
	}
	return db, nil
}

// Migrate applies every pending migration to the SQLite file at path,
// creating it if needed, and returns one human-readable line per migration
// applied (none when the schema is up to date). Open migrates too; Migrate
// is for running the step on its own (parley migrate).
func Migrate(ctx context.Context, path string) ([]string, error) {
	w, err := openWriter(path)
	if err != nil {
		return nil, internal("sqlite.Migrate", err)
	}
	defer w.Close()
	lines, err := migrate(ctx, w)
	if err != nil {
		return nil, internal("sqlite.Migrate", err)
	}
	return lines, nil
}

// Close closes both connection pools. It waits for nothing: calls still
// running fail. Close is not safe to call twice.
func (db *DB) Close() error {
	err := db.st.close()
	db.reads.Range(func(_, st any) bool {
		err = errors.Join(err, st.(*sql.Stmt).Close())
		return true
	})
	for _, st := range db.changes {
		if st != nil {
			err = errors.Join(err, st.Close())
		}
	}
	return errors.Join(err, db.w.Close(), db.r.Close())
}

// dsn builds a modernc.org/sqlite data source name. The PRAGMAs must be in
// the DSN: the driver runs them on every new connection of the pool, where
// db.Exec("PRAGMA ...") would reach only one pooled connection.
func dsn(path, params string) string {
	return "file:" + path + "?" + params
}

// openWriter opens the single-connection writer pool.
func openWriter(path string) (*sql.DB, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("database path %q must not contain '?' or '#'", path)
	}
	if err := registerFunctions(); err != nil { // the search trigger's (search.go)
		return nil, err
	}
	// The database holds API key hashes and token secrets: only the owner
	// may read it. SQLite gives the -wal and -shm files the same mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	_ = f.Close()
	// wal_autocheckpoint(1000), SQLite's default: the COMMIT that takes
	// the WAL past 1,000 pages (4 MB) copies it into the database before
	// it returns, which stalls the group committer for ~10 ms. A larger
	// WAL made Append up to 25% faster in BenchmarkAppend, but each stall
	// then lasted 100+ ms and every queued send waited it out: parley
	// bench direct at 2,000 messages/s measured p99 44 ms at 20,000
	// pages and 9.7 ms at 1,000. A checkpointer on its own connection
	// was worse still (p99 84-117 ms; the writer waits on the WAL locks
	// it holds). Beyond the usual four PRAGMAs, measured with
	// BenchmarkAppend (256 messages over 1,000 conversations), each worth
	// 5-25%: cache_size(-65536) keeps 64 MiB of hot pages instead of 2 MiB;
	// temp_store(MEMORY) keeps statement journals of multi-row UPDATEs off
	// the disk.
	w, err := sql.Open("sqlite", dsn(path,
		"_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)"+
			"&_pragma=wal_autocheckpoint(1000)&_pragma=cache_size(-65536)&_pragma=temp_store(MEMORY)&_txlock=immediate"))
	if err != nil {
		return nil, err
	}
	// One connection: SQLite allows one writer at a time anyway, and
	// queueing in database/sql is cheaper than spinning on SQLITE_BUSY.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	return w, nil
}

// migrate applies the embedded migrations through the writer.
func migrate(ctx context.Context, w *sql.DB) ([]string, error) {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	// Out of order: a migration numbered below one already applied
	// (00004 written after 00005 shipped, say) is applied too, instead of
	// refusing to open. Migrations are written to be independent.
	p, err := goose.NewProvider(goose.DialectSQLite3, w, fsys,
		goose.WithDisableGlobalRegistry(true), goose.WithAllowOutofOrder(true),
		goose.WithSlog(slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, err
	}
	// p.Close would close w, which the caller owns; a provider holds
	// nothing else.
	res, err := p.Up(ctx)
	if err != nil {
		return nil, err
	}
	lines := make([]string, 0, len(res))
	for _, r := range res {
		lines = append(lines, r.String())
	}
	return lines, nil
}

// internal wraps an infrastructure error.
func internal(op string, err error) error {
	var pe *parley.Error
	if errors.As(err, &pe) {
		return err
	}
	return &parley.Error{Code: parley.EInternal, Op: op, Err: err}
}

func notFound(op, format string, args ...any) error {
	return &parley.Error{Code: parley.ENotFound, Op: op, Message: fmt.Sprintf(format, args...)}
}

func forbidden(op, format string, args ...any) error {
	return &parley.Error{Code: parley.EForbidden, Op: op, Message: fmt.Sprintf(format, args...)}
}

// limit applies the default and the cap to a caller's row limit.
func limit(n int) int {
	switch {
	case n <= 0:
		return defaultLimit
	case n > maxLimit:
		return maxLimit
	}
	return n
}

// Times are stored as Unix milliseconds; 0 is the zero time.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// rollback ends a transaction that did not commit. The error is dropped:
// the one that made the caller give up is the one to report.
func rollback(tx *sql.Tx) { _ = tx.Rollback() }

// queryStrings runs a read query whose rows are one string each.
func (db *DB) queryStrings(ctx context.Context, query string, args ...any) ([]string, error) {
	st, err := db.readStmt(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
