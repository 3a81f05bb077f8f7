package pgmove

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
)

// ErrMismatch is returned when the copy does not read back as the
// source: a table's row count or a conversation's messages differ.
var ErrMismatch = errors.New("the PostgreSQL copy does not match the SQLite database")

// verify compares, inside the transaction, what PostgreSQL now holds with
// what SQLite holds: the rows of every table copied as it is, one search
// document per message, and each conversation's messages (their number,
// their last seq and a SHA-256 of "seq id" lines in seq order).
func (m *mover) verify(ctx context.Context) error {
	for _, t := range m.copied {
		if err := m.sameCount(ctx, t, t); err != nil {
			return err
		}
	}
	if err := m.sameCount(ctx, tableMessages, tableSearch); err != nil {
		return err
	}
	return m.sameMessages(ctx)
}

// sameCount compares the rows of SQLite table lite and PostgreSQL table pg.
func (m *mover) sameCount(ctx context.Context, lite, pg string) error {
	want, err := m.src.int(ctx, `SELECT count(*) FROM `+quote(lite))
	if err != nil {
		return err
	}
	var got int64
	if err := m.tx.QueryRow(ctx, `SELECT count(*) FROM `+quote(pg)).Scan(&got); err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w: PostgreSQL's %s has %d rows, SQLite's %s %d", ErrMismatch, pg, got, lite, want)
	}
	return nil
}

// convSum is a conversation's message checksum.
type convSum struct {
	app, conv   string
	count, last int64
	hash        string
}

// pgSums is convSum for every conversation with messages, in key order
// (byte order: ids are COLLATE "C", as SQLite's BINARY).
const pgSums = `SELECT app_id, conv_id, count(*), max(seq),
	encode(sha256(convert_to(string_agg(seq::text || ' ' || id, E'\n' ORDER BY seq), 'UTF8')), 'hex')
	FROM messages GROUP BY app_id, conv_id ORDER BY app_id, conv_id`

// sameMessages streams SQLite's messages in key order, computing each
// conversation's convSum, alongside PostgreSQL's, and compares them in
// step.
func (m *mover) sameMessages(ctx context.Context) error {
	lite, err := m.src.conn.QueryContext(ctx, `SELECT app_id, conv_id, seq, id FROM messages ORDER BY app_id, conv_id, seq`)
	if err != nil {
		return err
	}
	defer lite.Close()
	pg, err := m.tx.Query(ctx, pgSums)
	if err != nil {
		return err
	}
	defer pg.Close()

	var cur convSum
	var h hash.Hash
	var open bool
	// next compares the finished conversation cur with PostgreSQL's
	// next one.
	next := func() error {
		cur.hash = hex.EncodeToString(h.Sum(nil))
		if !pg.Next() {
			if err := pg.Err(); err != nil {
				return err
			}
			return fmt.Errorf("%w: conversation %s of app %s has no messages in PostgreSQL", ErrMismatch, cur.conv, cur.app)
		}
		var got convSum
		if err := pg.Scan(&got.app, &got.conv, &got.count, &got.last, &got.hash); err != nil {
			return err
		}
		if got != cur {
			return fmt.Errorf("%w: messages of conversation %s of app %s: PostgreSQL has %+v, SQLite %+v",
				ErrMismatch, cur.conv, cur.app, got, cur)
		}
		m.sum.Conversations++
		return nil
	}
	for lite.Next() {
		var app, conv, id string
		var seq int64
		if err := lite.Scan(&app, &conv, &seq, &id); err != nil {
			return err
		}
		if !open || app != cur.app || conv != cur.conv {
			if open {
				if err := next(); err != nil {
					return err
				}
			}
			cur, h, open = convSum{app: app, conv: conv}, sha256.New(), true
		} else {
			h.Write([]byte{'\n'})
		}
		cur.count++
		cur.last = seq
		h.Write([]byte(strconv.FormatInt(seq, 10) + " " + id))
	}
	if err := lite.Err(); err != nil {
		return err
	}
	if open {
		if err := next(); err != nil {
			return err
		}
	}
	if pg.Next() {
		var extra convSum
		_ = pg.Scan(&extra.app, &extra.conv, &extra.count, &extra.last, &extra.hash)
		return fmt.Errorf("%w: PostgreSQL has messages of conversation %s of app %s, SQLite none", ErrMismatch, extra.conv, extra.app)
	}
	return pg.Err()
}
