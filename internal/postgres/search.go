package postgres

import (
	"context"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/textsearch"
)

// PostgreSQL limits of a tsvector: positions above maxPosition are stored
// as maxPosition, and a lexeme keeps its first 256 positions only. A
// message's text (at most parley.MaxBodyLen bytes) stays well below the
// first; the second only matters for a CJK phrase repeated more than 256
// times in one message, whose later occurrences a phrase query does not
// see (the earlier ones still match).
const maxPosition = 16383

// searchDoc returns the search document of a message as a tsvector
// literal: the tokens textsearch.IndexText writes for its searchable text,
// each lexeme with the positions (from 1) at which IndexText has it, so
// that a phrase of CJK bigrams matches where the text has the whole run.
// Tokens are quoted, so the literal's syntax never depends on the text;
// PostgreSQL's text search parser and dictionaries are never involved.
// It returns "" (the empty tsvector) for a message with no searchable
// text.
func searchDoc(kind parley.Kind, body []byte) string {
	text := textsearch.IndexText(parley.SearchableText(kind, body))
	if text == "" {
		return ""
	}
	toks := strings.Split(text, " ")
	pos := make(map[string][]int, len(toks))
	var order []string
	for i, t := range toks {
		if _, ok := pos[t]; !ok {
			order = append(order, t)
		}
		pos[t] = append(pos[t], min(i+1, maxPosition))
	}
	var b strings.Builder
	b.Grow(2 * len(text))
	for i, t := range order {
		if i > 0 {
			b.WriteByte(' ')
		}
		quoteLexeme(&b, t)
		b.WriteByte(':')
		for j, p := range pos[t] {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(p))
		}
	}
	return b.String()
}

// tsQuery renders an analysed query as a tsquery literal over documents
// made by searchDoc: each term a lexeme, or the phrase (<->) of its
// tokens, the prefix term's last token followed by :*, every term joined
// by &. Every token is quoted, so no query text is read as tsquery syntax.
func tsQuery(q textsearch.Query) string {
	var b strings.Builder
	for i, t := range q.Terms() {
		if i > 0 {
			b.WriteString(" & ")
		}
		if len(t.Tokens) > 1 {
			b.WriteByte('(')
		}
		for j, tok := range t.Tokens {
			if j > 0 {
				b.WriteString(" <-> ")
			}
			quoteLexeme(&b, tok)
		}
		if t.Prefix {
			b.WriteString(":*")
		}
		if len(t.Tokens) > 1 {
			b.WriteByte(')')
		}
	}
	return b.String()
}

// quoteLexeme writes tok as a quoted lexeme of a tsvector or tsquery
// literal: in single quotes, with quotes doubled and backslashes escaped.
func quoteLexeme(b *strings.Builder, tok string) {
	b.WriteByte('\'')
	for _, r := range tok {
		switch r {
		case '\'':
			b.WriteString("''")
		case '\\':
			b.WriteString(`\\`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
}

// searchBudget is the most matches one SearchMessages call looks at, as
// in the SQLite store: a word common in other users' conversations gives
// a short or empty page with a cursor rather than a walk of every match.
const searchBudget = 2000

// searchWindow finds the window of matches a call may look at: the id of
// the searchBudget-th match of the app below the cursor (the floor) and
// how many matches the window holds. The GIN index finds the matches;
// the cost is proportional to the word's matches in the app.
const searchWindow = `SELECT COALESCE(min(id), 0), count(*) FROM (
	SELECT id FROM message_search WHERE app_id = $1 AND doc @@ $2::tsquery AND id < $3
	ORDER BY id DESC LIMIT $4) AS w`

// searchPage finds a page of matches newest first within the window,
// keeping those of conversations the user is a member of (a former group
// member's up to their leaving), and only then reads the page's messages.
// The user's memberships come through the two partial indexes on
// (app_id, user_id) (direct rows and former groups; current groups), the
// only ones by user.
const searchPage = `WITH mb AS (
		SELECT conv_id, left_seq FROM members WHERE app_id = $1 AND user_id = $4 AND role = ''
		UNION ALL
		SELECT conv_id, left_seq FROM members WHERE app_id = $1 AND user_id = $4 AND role <> ''),
	p AS MATERIALIZED (SELECT s.id, s.conv_id, s.seq FROM message_search s
		JOIN mb ON mb.conv_id = s.conv_id AND (mb.left_seq = 0 OR s.seq <= mb.left_seq)
		WHERE s.app_id = $1 AND s.doc @@ $2::tsquery AND s.id < $3 AND s.id >= $7 AND ($5 = '' OR s.conv_id = $5)
		ORDER BY s.id DESC LIMIT $6)
	SELECT p.id, m.app_id, m.conv_id, m.seq, m.id, m.sender, m.client_msg_id, m.kind, m.body, m.ts, m.variants FROM p
	JOIN messages m ON m.app_id = $1 AND m.conv_id = p.conv_id AND m.seq = p.seq
	ORDER BY p.id DESC`

// SearchMessages returns a page of the messages of the user's
// conversations whose searchable text matches q, most recently stored
// first (see parley.ConvStore). It reads the replica when there is one
// (WithReplica). It looks at most at searchBudget matches: a page can be
// short, even empty, while Next is not 0. Next is the search id (the
// order in which messages were inserted) to continue below.
func (s *Store) SearchMessages(ctx context.Context, appID, userID string, q parley.SearchQuery) (parley.SearchResult, error) {
	const op = "postgres.SearchMessages"
	if err := q.Validate(); err != nil {
		return parley.SearchResult{}, err
	}
	tq, err := textsearch.Parse(q.Text)
	if err != nil {
		return parley.SearchResult{}, err
	}
	n := q.Limit
	if n == 0 {
		n = parley.DefaultSearchLimit
	}
	before := int64(math.MaxInt64)
	if q.Before != 0 {
		before = clamp(q.Before)
	}
	query := tsQuery(tq)
	var floor int64
	var window int
	// Both statements are planned for their arguments (QueryExecModeExec:
	// no cached generic plan): whether walking ids newest first or
	// reading the GIN index is cheaper depends on how common the words
	// are.
	if err := s.r.QueryRow(ctx, searchWindow, pgx.QueryExecModeExec, appID, query, before, searchBudget).Scan(&floor, &window); err != nil {
		return parley.SearchResult{}, internal(op, err)
	}
	if window == 0 {
		return parley.SearchResult{}, nil
	}
	rows, err := s.r.Query(ctx, searchPage, pgx.QueryExecModeExec, appID, query, before, userID, q.ConvID, n+1, floor)
	if err != nil {
		return parley.SearchResult{}, internal(op, err)
	}
	defer rows.Close()
	var res parley.SearchResult
	var ids []int64
	for rows.Next() {
		var id int64
		var m parley.Message
		if err := scanFullMessage(scanAfter{rows, &id}, &m); err != nil {
			return parley.SearchResult{}, internal(op, err)
		}
		res.Msgs = append(res.Msgs, m)
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return parley.SearchResult{}, internal(op, err)
	}
	switch {
	case len(res.Msgs) > n:
		res.Msgs, res.Next = res.Msgs[:n], uint64(ids[n-1])
	case window == searchBudget:
		// Every match from the floor up was looked at; older ones may
		// follow.
		res.Next = uint64(floor)
	}
	return res, nil
}

// scanAfter is a row whose first column goes to first and the rest to the
// destinations Scan is given.
type scanAfter struct {
	row   interface{ Scan(...any) error }
	first any
}

func (s scanAfter) Scan(dst ...any) error { return s.row.Scan(append([]any{s.first}, dst...)...) }
