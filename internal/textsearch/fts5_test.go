package textsearch_test

import (
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	_ "modernc.org/sqlite"
	"pgregory.net/rapid"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/textsearch"
)

// openIndex returns an in-memory SQLite database with an FTS5 table t
// declared as Parley's message index is (internal/sqlite/migrations).
func openIndex(tb testing.TB) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", "file::memory:")
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1) // each connection would have its own memory database
	tb.Cleanup(func() { _ = db.Close() })
	_, err = db.Exec(`CREATE VIRTUAL TABLE t USING fts5(text, content = '', contentless_delete = 1, tokenize = "` + textsearch.FTS5Tokenize + `")`)
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

// fataler is what both *testing.T and *rapid.T offer.
type fataler interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// index replaces the table's documents with docs, rowid i+1 for docs[i].
func index(tb fataler, db *sql.DB, docs []string) {
	tb.Helper()
	if _, err := db.Exec(`DELETE FROM t`); err != nil {
		tb.Fatal(err)
	}
	for i, d := range docs {
		if _, err := db.Exec(`INSERT INTO t (rowid, text) VALUES (?, ?)`, i+1, textsearch.IndexText(d)); err != nil {
			tb.Fatalf("indexing %q: %v", d, err)
		}
	}
}

// search returns the rowids that match q, ascending.
func search(tb fataler, db *sql.DB, q textsearch.Query) []int {
	tb.Helper()
	rows, err := db.Query(`SELECT rowid FROM t WHERE t MATCH ? ORDER BY rowid`, q.FTS5())
	if err != nil {
		tb.Fatalf("MATCH %s: %v", q.FTS5(), err)
	}
	defer rows.Close()
	var ids []int
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			tb.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("MATCH %s: %v", q.FTS5(), err)
	}
	return ids
}

// The oracle: what a query should find, by plain string operations on
// the normalised texts instead of tokens and an index.

func oracleCJK(r rune) bool {
	return (unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) && unicode.IsLetter(r)) || r == 'ー'
}

func oracleWordRune(r rune) bool {
	return (unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r)) && !oracleCJK(r)
}

func cut(w string) string {
	if rs := []rune(w); len(rs) > textsearch.MaxTokenLen {
		return string(rs[:textsearch.MaxTokenLen])
	}
	return w
}

// oracleMatch reports whether text matches query: every word of the
// query is a word of the text (the last one, if the query ends with it
// and it is long enough, a prefix of one), and every CJK run of the query
// is a substring of a CJK run of the text. ok is false when the query has
// nothing to search for.
func oracleMatch(text, query string) (match, ok bool) {
	nt, nq := textsearch.Normalize(text), textsearch.Normalize(query)
	words := strings.FieldsFunc(nt, func(r rune) bool { return !oracleWordRune(r) })
	runs := strings.FieldsFunc(nt, func(r rune) bool { return !oracleCJK(r) })
	qwords := strings.FieldsFunc(nq, func(r rune) bool { return !oracleWordRune(r) })
	qruns := strings.FieldsFunc(nq, func(r rune) bool { return !oracleCJK(r) })
	if len(qwords)+len(qruns) == 0 {
		return false, false
	}
	last, _ := utf8.DecodeLastRuneInString(nq)
	for i, qw := range qwords {
		qw = cut(qw)
		prefix := i == len(qwords)-1 && oracleWordRune(last) && utf8.RuneCountInString(qw) >= textsearch.MinPrefixLen
		if !slices.ContainsFunc(words, func(w string) bool {
			w = cut(w)
			return w == qw || prefix && strings.HasPrefix(w, qw)
		}) {
			return false, true
		}
	}
	for _, qr := range qruns {
		if !slices.ContainsFunc(runs, func(r string) bool { return strings.Contains(r, qr) }) {
			return false, true
		}
	}
	return true, true
}

// pieces are what the generated texts and queries are made of: few
// enough that they share words and characters often.
var (
	cjkPieces  = []string{"北", "京", "开", "会", "明", "天", "我", "们", "去", "都", "ミ", "ー", "テ", "ィ", "회", "의", "ｶﾞ", "ガ"}
	wordPieces = []string{"meet", "meeting", "Meeting", "TOMORROW", "tomorrow", "tomo", "ab", "a", "x1", "ＭＥＥＴ", "Straße", "strasse", "café", "cafe\u0301", "ǰ", "ΟΔΟΣ"}
	sepPieces  = []string{" ", " ", "，", "。", "!", "\u200b", "\n", "🎉", "\ue000", "-"}
	allPieces  = slices.Concat(cjkPieces, wordPieces, sepPieces)
)

func textOf(pieces []string, min, max int) *rapid.Generator[string] {
	return rapid.Custom(func(t *rapid.T) string {
		return strings.Join(rapid.SliceOfN(rapid.SampledFrom(pieces), min, max).Draw(t, "pieces"), "")
	})
}

// TestSearchMatchesOracle: over real FTS5, a query finds exactly the
// texts the oracle says it matches.
func TestSearchMatchesOracle(t *testing.T) {
	db := openIndex(t)
	rapid.Check(t, func(t *rapid.T) {
		docs := rapid.SliceOfN(textOf(allPieces, 0, 16), 1, 5).Draw(t, "docs")
		query := textOf(allPieces, 1, 6).Draw(t, "query")
		q, err := textsearch.Parse(query)
		var want []int
		for i, d := range docs {
			match, ok := oracleMatch(d, query)
			if !ok {
				if parley.ErrorCode(err) != parley.EInvalid {
					t.Fatalf("Parse(%q): got error %v, want code invalid: nothing to search for", query, err)
				}
				return
			}
			if match {
				want = append(want, i+1)
			}
		}
		if err != nil {
			t.Fatalf("Parse(%q): got error %v, want nil", query, err)
		}
		index(t, db, docs)
		if got := search(t, db, q); !slices.Equal(got, want) {
			t.Fatalf("query %q (%s) over %q: got documents %v, want %v", query, q.FTS5(), docs, got, want)
		}
	})
}

// TestCJKSubstringIsFound: any piece of a Chinese or Japanese text, cut at
// any two characters, finds the text when it holds a CJK character.
func TestCJKSubstringIsFound(t *testing.T) {
	db := openIndex(t)
	rapid.Check(t, func(t *rapid.T) {
		text := textOf(slices.Concat(cjkPieces, sepPieces), 1, 30).Draw(t, "text")
		// Substrings of the text as search sees it: "ｶ" is not one of
		// "ｶﾞ", which NFKC makes "ガ".
		rs := []rune(textsearch.Normalize(text))
		if len(rs) == 0 {
			return
		}
		i := rapid.IntRange(0, len(rs)-1).Draw(t, "i")
		j := rapid.IntRange(i+1, len(rs)).Draw(t, "j")
		sub := string(rs[i:j])
		if !strings.ContainsFunc(textsearch.Normalize(sub), oracleCJK) {
			return
		}
		q, err := textsearch.Parse(sub)
		if err != nil {
			t.Fatalf("Parse(%q): got error %v, want nil", sub, err)
		}
		index(t, db, []string{text})
		if got := search(t, db, q); len(got) != 1 {
			t.Fatalf("query %q (%s), a substring of %q: not found", sub, q.FTS5(), text)
		}
	})
}

// TestTokensStayWhole: FTS5's tokenizer, as declared with FTS5Tokenize,
// indexes exactly the tokens IndexText wrote, whatever the text.
func TestTokensStayWhole(t *testing.T) {
	db := openIndex(t)
	if _, err := db.Exec(`CREATE VIRTUAL TABLE v USING fts5vocab(t, 'row')`); err != nil {
		t.Fatal(err)
	}
	rapid.Check(t, func(t *rapid.T) {
		text := rapid.String().Draw(t, "text")
		index(t, db, []string{text})
		want := strings.Fields(textsearch.IndexText(text))
		slices.Sort(want)
		want = slices.Compact(want)
		var got []string
		rows, err := db.Query(`SELECT term FROM v ORDER BY term`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var term string
			if err := rows.Scan(&term); err != nil {
				t.Fatal(err)
			}
			got = append(got, term)
		}
		slices.Sort(got) // SQLite sorts by bytes too, but say so
		if !slices.Equal(got, want) {
			t.Fatalf("IndexText(%q): FTS5 indexed %q, want %q", text, got, want)
		}
	})
}

func TestNormalizeProperties(t *testing.T) {
	ignorable := []rune{'\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad', '\u202e', '\ufe0f', '\u3164'}
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.String().Draw(t, "s")
		n := textsearch.Normalize(s)
		if again := textsearch.Normalize(n); again != n {
			t.Fatalf("Normalize is not idempotent on %q: %q, then %q", s, n, again)
		}
		// Invisible characters anywhere change nothing.
		rs := []rune(s)
		at := rapid.IntRange(0, len(rs)).Draw(t, "at")
		zw := rapid.SampledFrom(ignorable).Draw(t, "zw")
		with := string(rs[:at]) + string(zw) + string(rs[at:])
		if got := textsearch.Normalize(with); got != n {
			t.Fatalf("Normalize(%q) = %q, but with %U inserted: %q", s, n, zw, got)
		}
		// Case does not matter.
		if up := textsearch.Normalize(strings.ToUpper(s)); up != n && textsearch.Normalize(strings.ToLower(s)) == n {
			// ToUpper is not always reversible by folding (e.g. "ı"
			// → "I" → "i"), so only ASCII is held to it.
			if isASCII(s) {
				t.Fatalf("Normalize(%q) = %q, but of its upper case: %q", s, n, up)
			}
		}
	})
}

func isASCII(s string) bool {
	for _, r := range s {
		if r >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func ExampleParse() {
	for _, q := range []string{"北京", "Meeting TOMO", `"x" OR y`} {
		p, err := textsearch.Parse(q)
		fmt.Println(p.FTS5(), err)
	}
	// Output:
	// "北京" <nil>
	// "meeting" AND "tomo"* <nil>
	// "x" AND "or" AND "y" <nil>
}
