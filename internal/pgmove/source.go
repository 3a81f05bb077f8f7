package pgmove

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"

	msqlite "modernc.org/sqlite" // also registers the "sqlite" database/sql driver
)

// sqliteBusy is SQLITE_BUSY, the primary result code of a lock that
// another connection holds.
const sqliteBusy = 5

// source is the SQLite database being moved, held under an exclusive lock
// on one connection from lockSource to close.
type source struct {
	db   *sql.DB
	conn *sql.Conn
}

// lockSource opens the SQLite file at path and locks it exclusively: the
// connection runs in locking_mode EXCLUSIVE (in WAL mode it then needs
// the database file's exclusive lock, which fails while any other
// connection, a node's idle pool included, has the file open) and in a
// BEGIN EXCLUSIVE transaction that it never commits. Returns ErrInUse if
// the file is open elsewhere. Until close, no node can open the file:
// sqlite.Open fails after its busy timeout.
func lockSource(ctx context.Context, path string) (*source, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("database path %q must not contain '?' or '#'", path)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no SQLite database to move: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)&_pragma=locking_mode(EXCLUSIVE)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	s := &source{db: db}
	if s.conn, err = db.Conn(ctx); err == nil {
		if _, err = s.conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err == nil {
			// The first read takes the file lock.
			var n int
			err = s.conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n)
		}
	}
	if err != nil {
		s.close()
		var se *msqlite.Error
		if errors.As(err, &se) && se.Code()&0xff == sqliteBusy {
			return nil, fmt.Errorf("%w: %s", ErrInUse, path)
		}
		return nil, err
	}
	return s, nil
}

// close ends the transaction (it wrote nothing) and releases the lock.
func (s *source) close() {
	if s.conn != nil {
		_, _ = s.conn.ExecContext(context.Background(), "ROLLBACK")
		_ = s.conn.Close()
	}
	_ = s.db.Close()
}

// tables returns every table of the database with its columns, in
// declaration order.
func (s *source) tables(ctx context.Context) (map[string][]string, error) {
	rows, err := s.conn.QueryContext(ctx, `SELECT t.name, c.name FROM sqlite_master t, pragma_table_info(t.name) c
		WHERE t.type = 'table' ORDER BY t.name, c.cid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string][]string)
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			return nil, err
		}
		out[t] = append(out[t], c)
	}
	return out, rows.Err()
}

// int returns the one integer a query reads (0 for NULL).
func (s *source) int(ctx context.Context, query string, args ...any) (int64, error) {
	var v sql.NullInt64
	err := s.conn.QueryRowContext(ctx, query, args...).Scan(&v)
	return v.Int64, err
}

// quote quotes an identifier for either database.
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	return strings.Join(q, ", ")
}
