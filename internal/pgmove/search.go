package pgmove

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/postgres"
)

// Statements of buildSearch. The documents go through a staging table as
// text and are cast with ::tsvector, as Append casts them: COPY would
// send tsvectors in binary, which PostgreSQL normalises differently
// from its text input (a lexeme's positions beyond the 256th, repeated
// positions).
const (
	createStaging = `CREATE TEMP TABLE pgmove_search (i bigint, app_id text, conv_id text, seq bigint, doc text)
		ON COMMIT DROP`
	fromStaging = `INSERT INTO message_search (id, app_id, conv_id, seq, doc) OVERRIDING SYSTEM VALUE
		SELECT i, app_id, conv_id, seq, doc::tsvector FROM pgmove_search ORDER BY i`
	// searchOrder is every indexed message with its SQLite search id,
	// which becomes its PostgreSQL search id: the order of results and
	// the page cursor (SearchResult.Next) carry over. unindexed is any
	// message without one (none, unless the index was damaged), given
	// the ids after them.
	searchOrder = `SELECT d.id, m.app_id, m.conv_id, m.seq, m.kind, m.body FROM message_search_docs d
		JOIN messages m ON m.app_id = d.app_id AND m.conv_id = d.conv_id AND m.seq = d.seq
		ORDER BY d.id`
	unindexed = `SELECT 0, m.app_id, m.conv_id, m.seq, m.kind, m.body FROM messages m
		WHERE NOT EXISTS (SELECT 1 FROM message_search_docs d
			WHERE d.app_id = m.app_id AND d.conv_id = m.conv_id AND d.seq = m.seq)
		ORDER BY m.ts, m.app_id, m.conv_id, m.seq`
)

// buildSearch writes every message's search document as Append would
// have (postgres.SearchDocument of its stored kind and body, so an edit
// is found by its new text and a recall not at all), in SQLite's search
// order.
func (m *mover) buildSearch(ctx context.Context) error {
	if _, err := m.tx.Exec(ctx, createStaging); err != nil {
		return err
	}
	var i int64
	for _, q := range []string{searchOrder, unindexed} {
		if err := m.stageSearch(ctx, q, &i); err != nil {
			return err
		}
	}
	ct, err := m.tx.Exec(ctx, fromStaging)
	if err != nil {
		return err
	}
	m.sum.Tables = append(m.sum.Tables, TableRows{tableSearch, ct.RowsAffected()})
	return nil
}

// stageSearch copies the documents of the messages query q reads into
// the staging table, with their search ids, or for id 0 the next after
// the highest so far (*i).
func (m *mover) stageSearch(ctx context.Context, q string, i *int64) error {
	rows, err := m.src.conn.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	src := newRowSource(rows, 6, 5, func(in, out []any) error {
		id, ok0 := in[0].(int64)
		kind, ok1 := in[4].(string)
		body, ok2 := in[5].(string)
		if !ok0 || !ok1 || !ok2 {
			return fmt.Errorf("message %v/%v/%v: search id %T, kind %T and body %T, want integer and text",
				in[1], in[2], in[3], in[0], in[4], in[5])
		}
		if id == 0 {
			*i++
			id = *i
		}
		*i = max(*i, id)
		out[0], out[1], out[2], out[3] = id, in[1], in[2], in[3]
		out[4] = postgres.SearchDocument(parley.Kind(kind), []byte(body))
		return nil
	})
	_, err = m.tx.CopyFrom(ctx, pgx.Identifier{"pgmove_search"}, []string{"i", "app_id", "conv_id", "seq", "doc"}, src)
	return err
}
