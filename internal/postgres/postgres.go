package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/files"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Limits on the number of rows one read returns (as the SQLite store).
const (
	defaultLimit = 50
	maxLimit     = 1000
)

// Store is a parley.Store and a files.Catalog on a PostgreSQL database.
// Create it with Open; it is safe for concurrent use by any number of
// goroutines, and any number of Stores, in any number of processes, may
// share one database (see the package comment).
type Store struct {
	w *pgxpool.Pool // the primary: every write, and reads that must see them
	r *pgxpool.Pool // history and search reads: the replica if there is one, else w
}

var (
	_ parley.Store  = (*Store)(nil)
	_ files.Catalog = (*Store)(nil)
)

// Option configures Open.
type Option func(*options)

type options struct {
	replica  string
	maxConns int32
}

// WithReplica makes Messages and SearchMessages read from the PostgreSQL
// server at dsn, a streaming replica of the primary, instead of the
// primary. A replica lags: a message may be missing from history or
// search for as long as the replica is behind, which clients already
// handle (a pull that comes back short is pulled again; seqs are
// gapless). Everything else reads the primary, so that sync (Changes)
// never misses a change. An empty dsn means no replica.
func WithReplica(dsn string) Option { return func(o *options) { o.replica = dsn } }

// WithMaxConns caps each connection pool (the primary's and the
// replica's) at n connections; 0 keeps the DSN's pool_max_conns or pgx's
// default (the larger of 4 and the number of CPUs).
func WithMaxConns(n int32) Option { return func(o *options) { o.maxConns = n } }

// Open connects to the PostgreSQL database at dsn (a URL or key=value
// connection string, as pgx takes it), applies every pending migration
// and returns the store. Several nodes may Open the same database at
// once: migrations run under a PostgreSQL advisory lock. The caller must
// Close the store.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	const op = "postgres.Open"
	var o options
	for _, f := range opts {
		f(&o)
	}
	if _, err := Migrate(ctx, dsn); err != nil {
		return nil, err
	}
	w, err := newPool(ctx, dsn, o.maxConns)
	if err != nil {
		return nil, internal(op, err)
	}
	s := &Store{w: w, r: w}
	if o.replica != "" {
		if s.r, err = newPool(ctx, o.replica, o.maxConns); err != nil {
			w.Close()
			return nil, internal(op, fmt.Errorf("replica: %w", err))
		}
	}
	return s, nil
}

func newPool(ctx context.Context, dsn string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := p.Ping(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Migrate applies every pending migration to the database at dsn and
// returns one human-readable line per migration applied (none when the
// schema is up to date). It holds a PostgreSQL advisory lock while it
// runs, so that nodes starting together apply each migration once. Open
// migrates too; Migrate is for running the step on its own (parley
// migrate).
func Migrate(ctx context.Context, dsn string) ([]string, error) {
	const op = "postgres.Migrate"
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, internal(op, err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	lines, err := migrate(ctx, db)
	if err != nil {
		return nil, internal(op, err)
	}
	return lines, nil
}

func migrate(ctx context.Context, db *sql.DB) ([]string, error) {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, err
	}
	// Out of order, as the SQLite store: a migration numbered below one
	// already applied is applied too. Migrations are written to be
	// independent.
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithDisableGlobalRegistry(true), goose.WithAllowOutofOrder(true),
		goose.WithSessionLocker(locker), goose.WithSlog(slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, err
	}
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

// Close closes the connection pools, waiting for connections in use to be
// released. Close is not safe to call twice.
func (s *Store) Close() error {
	if s.r != s.w {
		s.r.Close()
	}
	s.w.Close()
	return nil
}

// maxAttempts bounds how often inTx runs a transaction that PostgreSQL
// aborted for a deadlock or a serialization failure. The lock order (see
// the package comment) avoids deadlocks between Parley's own writes; the
// retry covers the rare ones it cannot (two upserts creating the same new
// users in different orders).
const maxAttempts = 3

// inTx runs fn in a READ COMMITTED transaction on the primary and commits
// it if fn returns nil. It runs fn again, in a new transaction, when
// PostgreSQL aborted the last one for a deadlock (40P01) or a
// serialization failure (40001), or when fn asks for it with errRetry.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	var err error
	for range maxAttempts {
		err = pgx.BeginFunc(ctx, s.w, fn)
		if !retryable(err) {
			return err
		}
	}
	return err
}

// errRetry, returned by a transaction's function, makes inTx run it again.
var errRetry = errors.New("retry the transaction")

func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40P01" || pe.Code == "40001"
	}
	return errors.Is(err, errRetry)
}

// internal wraps an infrastructure error; a *parley.Error passes as it is.
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

func conflict(op, format string, args ...any) error {
	return &parley.Error{Code: parley.EConflict, Op: op, Message: fmt.Sprintf(format, args...)}
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

// clamp turns an unsigned seq or version into PostgreSQL's bigint range.
func clamp(v uint64) int64 { return int64(min(v, 1<<63-1)) }

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

// nonNil keeps NOT NULL bytea columns satisfied by nil slices.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// queryStrings runs a query whose rows are one text each.
func queryStrings(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, query string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
