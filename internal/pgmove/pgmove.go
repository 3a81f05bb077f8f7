// Package pgmove moves a single node's data from its embedded SQLite
// database into an empty PostgreSQL database (parley migrate-to-postgres),
// after which the node, or any number of nodes, runs on PostgreSQL with
// every device carrying on where it was.
//
// What moves: every table the SQLite store keeps, row for row and column
// for column (apps with their key hashes and token secrets, users,
// revocations, conversations, members with their cursors, roles and
// settings, messages, groups, contacts, app settings, the files catalog,
// offline pushes, the consultation tables, the event stream's outbox,
// log, webhooks and dead letters), with identity sequences set past the
// ids moved. What is rebuilt instead: every message's search document,
// made by postgres.SearchDocument as Append makes it, under the search
// id SQLite gave the message (so result order and page cursors carry
// over); the outbox rows, re-encoded in PostgreSQL's
// form; and the version counters (decision record 0005), each set to the
// highest version its space may have handed out, so that every version
// handed out after the move is above every version a device may hold:
// an app's change counter to SQLite's (global) change version, its
// profile counter to its highest users.ver, each contact list's counter
// to its highest ver, its event counter to its last log position. Rows
// keep their versions and conversations their seqs, so a device's
// sync(since) and pull(after) mean the same before and after.
//
// A table or column of the SQLite database that PostgreSQL has no place
// for makes Move refuse before it copies anything, so a schema that grew
// on one side only cannot lose data silently.
//
// # Concurrency
//
// Move holds an exclusive lock on the SQLite file for its whole run and
// refuses to start while anything else has it open (ErrInUse): the node
// must be stopped. Everything is written in one PostgreSQL transaction,
// verified (row counts per table and a checksum of every conversation's
// messages) before it commits: a failure or a mismatch leaves the
// PostgreSQL database as empty as it was. Rows are streamed (COPY), never
// held in memory.
package pgmove

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-im/parley/internal/postgres"
	"github.com/parley-im/parley/internal/sqlite"
)

var (
	// ErrInUse is returned when the SQLite database is open elsewhere,
	// as it is while a node runs on it.
	ErrInUse = errors.New("the SQLite database is in use: stop the node first")
	// ErrNotEmpty is returned when the PostgreSQL database already holds
	// data (an app, a user, anything): Move only fills an empty one.
	ErrNotEmpty = errors.New("the PostgreSQL database is not empty")
)

// Summary is what Move copied and verified.
type Summary struct {
	// Tables holds each PostgreSQL table written, with its rows, in the
	// order written.
	Tables []TableRows
	// Conversations is the number of conversations whose messages'
	// checksums (count, last seq, ids by seq) were compared equal.
	Conversations int64
	// ChangeVer is the highest change version SQLite had handed out;
	// every app's change versions continue above it.
	ChangeVer int64
	// Counters is the number of version counters set.
	Counters int64
	// Took is how long the move took.
	Took time.Duration
}

// TableRows is a table and its number of rows.
type TableRows struct {
	Name string
	Rows int64
}

// Tables of the SQLite store that are not copied as they are.
const (
	tableChangeVer  = "change_ver"          // its one version becomes the apps' change counters
	tableSearchDocs = "message_search_docs" // the search order; documents are rebuilt
	tableOutbox     = "outbox"              // re-encoded (outbox.go)
	tableMessages   = "messages"
	tableSearch     = "message_search" // FTS5 in SQLite (and its shadow tables), tsvectors in PostgreSQL
	tableCounters   = "counters"       // PostgreSQL only: set from the copied versions
	tableGoose      = "goose_db_version"
)

// first are the tables written before the others (by name): those that
// others' foreign keys point at.
var first = []string{"apps", "conversations"}

// Move copies the SQLite database at sqlitePath into the PostgreSQL
// database at dsn (see the package comment). It brings the SQLite file
// to the current schema first (sqlite.Migrate, as a node's start would)
// and the PostgreSQL database too (postgres.Migrate). Returns ErrInUse if
// the SQLite file is open elsewhere and ErrNotEmpty if PostgreSQL holds
// any data; on any error PostgreSQL holds nothing that Move wrote.
func Move(ctx context.Context, sqlitePath, dsn string) (*Summary, error) {
	start := time.Now()
	// Check before migrating that no node has the file open; then
	// migrate (which needs a connection of its own) and lock for good.
	src, err := lockSource(ctx, sqlitePath)
	if err != nil {
		return nil, err
	}
	src.close()
	if _, err := sqlite.Migrate(ctx, sqlitePath); err != nil {
		return nil, err
	}
	if src, err = lockSource(ctx, sqlitePath); err != nil {
		return nil, err
	}
	defer src.close()

	if _, err := postgres.Migrate(ctx, dsn); err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	m := &mover{src: src, sum: &Summary{}}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		m.tx = tx
		return m.run(ctx)
	})
	if err != nil {
		return nil, err
	}
	m.sum.Took = time.Since(start)
	return m.sum, nil
}

// mover is one Move's state.
type mover struct {
	src    *source
	tx     pgx.Tx
	sum    *Summary
	lite   map[string][]string // SQLite tables and their columns
	pg     map[string][]pgColumn
	copied []string // tables copied as they are, checked by count
}

// pgColumn is a column of a PostgreSQL table.
type pgColumn struct {
	name, typ string
	identity  bool
}

func (m *mover) run(ctx context.Context) error {
	var err error
	if m.lite, err = m.src.tables(ctx); err != nil {
		return fmt.Errorf("reading the SQLite schema: %w", err)
	}
	if m.pg, err = pgTables(ctx, m.tx); err != nil {
		return fmt.Errorf("reading the PostgreSQL schema: %w", err)
	}
	if err := m.checkEmpty(ctx); err != nil {
		return err
	}
	plain, err := m.plan()
	if err != nil {
		return err
	}
	for _, t := range plain {
		if err := m.copyTable(ctx, t); err != nil {
			return fmt.Errorf("copying %s: %w", t, err)
		}
	}
	if err := m.copyOutbox(ctx); err != nil {
		return fmt.Errorf("copying %s: %w", tableOutbox, err)
	}
	if err := m.buildSearch(ctx); err != nil {
		return fmt.Errorf("building the search documents: %w", err)
	}
	if err := m.setCounters(ctx); err != nil {
		return fmt.Errorf("setting the version counters: %w", err)
	}
	if err := m.setIdentities(ctx); err != nil {
		return fmt.Errorf("setting the identity sequences: %w", err)
	}
	return m.verify(ctx)
}

// pgTables reads the tables of the current schema with their columns.
func pgTables(ctx context.Context, tx pgx.Tx) (map[string][]pgColumn, error) {
	rows, err := tx.Query(ctx, `SELECT table_name, column_name, data_type, is_identity = 'YES'
		FROM information_schema.columns WHERE table_schema = current_schema()
		ORDER BY table_name, ordinal_position`)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]pgColumn)
	var t string
	var c pgColumn
	_, err = pgx.ForEachRow(rows, []any{&t, &c.name, &c.typ, &c.identity}, func() error {
		out[t] = append(out[t], c)
		return nil
	})
	return out, err
}

// checkEmpty returns ErrNotEmpty if any table of PostgreSQL but goose's
// has a row.
func (m *mover) checkEmpty(ctx context.Context) error {
	var full []string
	for _, t := range slices.Sorted(maps.Keys(m.pg)) {
		if t == tableGoose {
			continue
		}
		var has bool
		if err := m.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+quote(t)+`)`).Scan(&has); err != nil {
			return err
		}
		if has {
			full = append(full, t)
		}
	}
	if len(full) > 0 {
		return fmt.Errorf("%w: %s hold rows; move into a new database", ErrNotEmpty, strings.Join(full, ", "))
	}
	return nil
}

// plan returns the SQLite tables to copy as they are, in the order to
// copy them, or an error naming a table or column that PostgreSQL has no
// place for.
func (m *mover) plan() ([]string, error) {
	var plain []string
	for t, cols := range m.lite {
		switch {
		case t == tableChangeVer, t == tableSearchDocs, t == tableOutbox, t == tableGoose,
			t == tableSearch, strings.HasPrefix(t, tableSearch+"_"), strings.HasPrefix(t, "sqlite_"):
			continue
		}
		pcols, ok := m.pg[t]
		if !ok {
			return nil, fmt.Errorf("SQLite table %s has no table in PostgreSQL: this version of parley cannot move it", t)
		}
		for _, c := range cols {
			if !slices.ContainsFunc(pcols, func(p pgColumn) bool { return p.name == c }) {
				return nil, fmt.Errorf("column %s of SQLite table %s has no column in PostgreSQL: this version of parley cannot move it", c, t)
			}
		}
		plain = append(plain, t)
	}
	for _, t := range []string{tableMessages, tableChangeVer, tableSearchDocs, tableOutbox} {
		if _, ok := m.lite[t]; !ok {
			return nil, fmt.Errorf("SQLite table %s is missing", t)
		}
	}
	rank := func(t string) int {
		if i := slices.Index(first, t); i >= 0 {
			return i
		}
		return len(first)
	}
	slices.SortFunc(plain, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	return plain, nil
}

// copyTable copies an SQLite table's rows into the PostgreSQL table of
// the same name with COPY, column by column, converting what the two
// type systems store differently (see convert).
func (m *mover) copyTable(ctx context.Context, t string) error {
	cols := m.lite[t]
	convs := make([]func(any) (any, error), len(cols))
	for i, c := range cols {
		for _, p := range m.pg[t] {
			if p.name == c {
				convs[i] = convert(p.typ)
			}
		}
	}
	rows, err := m.src.conn.QueryContext(ctx, `SELECT `+quoteAll(cols)+` FROM `+quote(t))
	if err != nil {
		return err
	}
	defer rows.Close()
	src := newRowSource(rows, len(cols), len(cols), func(in, out []any) error {
		for i, v := range in {
			var err error
			if out[i], err = convs[i](v); err != nil {
				return fmt.Errorf("column %s: %w", cols[i], err)
			}
		}
		return nil
	})
	n, err := m.tx.CopyFrom(ctx, pgx.Identifier{t}, cols, src)
	if err != nil {
		return err
	}
	m.copied = append(m.copied, t)
	m.sum.Tables = append(m.sum.Tables, TableRows{t, n})
	return nil
}

// convert returns the conversion of an SQLite value (int64, float64,
// string, []byte or nil) into one pgx encodes as a PostgreSQL column of
// type typ: SQLite keeps booleans as integers, and may hand text back
// as bytes and bytes as text.
func convert(typ string) func(any) (any, error) {
	switch typ {
	case "boolean":
		return func(v any) (any, error) {
			switch v := v.(type) {
			case nil:
				return nil, nil
			case int64:
				return v != 0, nil
			}
			return nil, fmt.Errorf("want an integer for a boolean, got %T", v)
		}
	case "bytea":
		return func(v any) (any, error) {
			if s, ok := v.(string); ok {
				return []byte(s), nil
			}
			return v, nil
		}
	case "text":
		return func(v any) (any, error) {
			if b, ok := v.([]byte); ok {
				return string(b), nil
			}
			return v, nil
		}
	}
	return func(v any) (any, error) { return v, nil }
}
