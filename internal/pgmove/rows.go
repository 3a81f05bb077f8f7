package pgmove

import "database/sql"

// rowSource is a pgx.CopyFromSource over SQLite rows: it scans one row
// at a time and hands COPY the values as convert makes them, so a table
// of any size streams through a row's worth of memory.
type rowSource struct {
	rows    *sql.Rows
	in, out []any
	ptrs    []any
	convert func(in, out []any) error
	err     error
}

// newRowSource reads rows of in columns and gives COPY rows of out
// columns; convert fills out (the row COPY gets) from in (the row
// scanned).
func newRowSource(rows *sql.Rows, in, out int, convert func(in, out []any) error) *rowSource {
	s := &rowSource{rows: rows, in: make([]any, in), out: make([]any, out), ptrs: make([]any, in), convert: convert}
	for i := range s.in {
		s.ptrs[i] = &s.in[i]
	}
	return s
}

func (s *rowSource) Next() bool {
	if s.err != nil || !s.rows.Next() {
		return false
	}
	if s.err = s.rows.Scan(s.ptrs...); s.err == nil {
		s.err = s.convert(s.in, s.out)
	}
	return s.err == nil
}

func (s *rowSource) Values() ([]any, error) { return s.out, nil }

func (s *rowSource) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.rows.Err()
}
