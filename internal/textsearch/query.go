package textsearch

import (
	"strings"
	"unicode/utf8"

	"github.com/parley-im/parley"
)

// MaxTerms is the most terms a query may have once analysed.
const MaxTerms = 32

// Term is one condition of a query: its tokens appear at consecutive
// positions of a document (one token: anywhere). With Prefix, the last
// token matches any token that starts with it.
type Term struct {
	Tokens []string
	Prefix bool
}

// Query is an analysed search query: a document matches when it matches
// every term. The zero Query has no terms; Parse never returns one.
type Query struct {
	terms []Term
}

// Parse analyses a user's query as the package comment describes. It
// returns EInvalid if nothing in q is searchable (only punctuation, say)
// or if q has more than MaxTerms distinct terms. Parse does not limit the
// length of q; callers do (parley.MaxSearchLen).
func Parse(q string) (Query, error) {
	norm := Normalize(q)
	var terms []Term
	seen := make(map[string]bool)
	add := func(t Term) {
		key := strings.Join(t.Tokens, " ")
		if t.Prefix {
			key += "*"
		}
		if !seen[key] {
			seen[key] = true
			terms = append(terms, t)
		}
	}
	segments(norm, func(k segKind, seg string, end int) {
		switch {
		case k == segWord:
			w := truncate(seg)
			// Only the last word, and only if the query ends with it:
			// "meet" is still being typed, "meet " is done.
			prefix := end == len(norm) && utf8.RuneCountInString(w) >= MinPrefixLen
			add(Term{Tokens: []string{w}, Prefix: prefix})
		case utf8.RuneCountInString(seg) == 1:
			add(Term{Tokens: []string{seg}})
		default:
			var t Term
			bigrams(seg, func(bg string) { t.Tokens = append(t.Tokens, bg) })
			add(t)
		}
	})
	switch {
	case len(terms) == 0:
		return Query{}, parley.Errorf(parley.EInvalid, "the query has no letters or digits to search for")
	case len(terms) > MaxTerms:
		return Query{}, parley.Errorf(parley.EInvalid, "the query has more than %d words", MaxTerms)
	}
	return Query{terms: terms}, nil
}

// Terms returns the query's terms, in the order of the query. The caller
// must not modify them.
func (q Query) Terms() []Term { return q.terms }

// FTS5 returns the query as an FTS5 MATCH expression for a table declared
// with FTS5Tokenize and filled through IndexText: each term a quoted
// string (a phrase when it has several tokens), the prefix term followed
// by *, all joined by AND. Every token is quoted, with any double quote
// doubled, so no query text can be read as FTS5 syntax (operators, column
// filters, NEAR, parentheses). The zero Query gives "", which FTS5
// refuses; use Parse.
func (q Query) FTS5() string {
	var b strings.Builder
	for i, t := range q.terms {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteByte('"')
		for j, tok := range t.Tokens {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strings.ReplaceAll(tok, `"`, `""`))
		}
		b.WriteByte('"')
		if t.Prefix {
			b.WriteByte('*')
		}
	}
	return b.String()
}
