package pgmove

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/parley-im/parley/internal/events"
)

// copyOutbox copies the outbox rows the relay has not published yet,
// with their ids (the relay's order) and times. SQLite keeps a row as a
// kind and a JSON tuple ('msgs': [[app, conv, first, last], ...]; 'read':
// [app, conv, user, seq]); PostgreSQL as the JSON of []events.MsgRange or
// events.ReadCursor in a column each (postgres.OutboxRows reads them).
func (m *mover) copyOutbox(ctx context.Context) error {
	rows, err := m.src.conn.QueryContext(ctx, `SELECT id, ts, kind, data FROM outbox ORDER BY id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	src := newRowSource(rows, 4, 4, func(in, out []any) error {
		kind, _ := in[2].(string)
		data, _ := in[3].(string)
		msgs, read, err := outboxColumns(kind, data)
		if err != nil {
			return fmt.Errorf("row %v: %w", in[0], err)
		}
		out[0], out[1], out[2], out[3] = in[0], in[1], msgs, read
		return nil
	})
	n, err := m.tx.CopyFrom(ctx, pgx.Identifier{tableOutbox}, []string{"id", "ts", "msgs", "read"}, src)
	if err != nil {
		return err
	}
	m.copied = append(m.copied, tableOutbox)
	m.sum.Tables = append(m.sum.Tables, TableRows{tableOutbox, n})
	return nil
}

// outboxColumns turns an SQLite outbox row into PostgreSQL's msgs and
// read columns, one of them NULL.
func outboxColumns(kind, data string) (msgs, read *string, err error) {
	switch kind {
	case "msgs":
		var tuples [][]json.RawMessage
		if err := json.Unmarshal([]byte(data), &tuples); err != nil {
			return nil, nil, err
		}
		rs := make([]events.MsgRange, len(tuples))
		for i, t := range tuples {
			if err := decodeTuple(t, &rs[i].App, &rs[i].Conv, &rs[i].First, &rs[i].Last); err != nil {
				return nil, nil, err
			}
		}
		msgs, err = jsonString(rs)
	case "read":
		var t []json.RawMessage
		var c events.ReadCursor
		if err := json.Unmarshal([]byte(data), &t); err != nil {
			return nil, nil, err
		}
		if err := decodeTuple(t, &c.App, &c.Conv, &c.User, &c.Seq); err != nil {
			return nil, nil, err
		}
		read, err = jsonString(c)
	default:
		err = fmt.Errorf("unknown kind %q", kind)
	}
	return msgs, read, err
}

// decodeTuple decodes the values of a JSON array into dst, one each.
func decodeTuple(t []json.RawMessage, dst ...any) error {
	if len(t) != len(dst) {
		return fmt.Errorf("want %d values, got %d", len(dst), len(t))
	}
	for i, v := range t {
		if err := json.Unmarshal(v, dst[i]); err != nil {
			return err
		}
	}
	return nil
}

func jsonString(v any) (*string, error) {
	b, err := json.Marshal(v)
	s := string(b)
	return &s, err
}
