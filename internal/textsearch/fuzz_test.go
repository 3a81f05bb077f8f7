package textsearch_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/textsearch"
)

// FuzzQuery checks that no query panics Parse, that every refusal is
// invalid, and that every accepted query is an FTS5 expression that real
// FTS5 runs without error: the query is data, never syntax.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{
		"meet", "Meeting TOMORROW", "北京", "我们明天去北京开会", "明", "ｶﾞｲﾄﾞ", "회의",
		`"`, `""`, `"a" OR "b"`, "a AND b", "NOT a", "a NEAR b", "NEAR(a b, 2)", "a:b", "{a b}:c",
		"^a", "a*", "*", "(", ")", "a + b", "-a", "col:", "\x00", "\ue000", "\u200b", "\xff",
		"a\"b", strings.Repeat("a", 300), strings.Repeat("北", 200), strings.Repeat("a ", 40),
		"\ufdfa", "x\u0301", "\u0301", "Ꭰꭰ",
	} {
		f.Add(s)
	}
	db := openIndex(f)
	index(f, db, []string{"Meeting tomorrow", "我们明天去北京开会", "a b c", `"quoted" AND NOT`})
	f.Fuzz(func(t *testing.T, s string) {
		q, err := textsearch.Parse(s)
		if err != nil {
			if parley.ErrorCode(err) != parley.EInvalid {
				t.Fatalf("Parse(%q): got error %v, want code invalid", s, err)
			}
			return
		}
		if len(q.Terms()) == 0 || len(q.Terms()) > textsearch.MaxTerms {
			t.Fatalf("Parse(%q): got %d terms, want 1-%d", s, len(q.Terms()), textsearch.MaxTerms)
		}
		for _, term := range q.Terms() {
			for _, tok := range term.Tokens {
				if tok == "" || !utf8.ValidString(tok) || strings.ContainsAny(tok, " \"\ue000") {
					t.Fatalf("Parse(%q): token %q is empty, invalid or holds a space, quote or break", s, tok)
				}
			}
		}
		search(t, db, q) // fails the test on any FTS5 error
	})
}

// FuzzIndexText checks that any text, as IndexText writes it, is accepted
// by the index and found by each of its own words.
func FuzzIndexText(f *testing.F) {
	for _, s := range []string{"Meeting tomorrow", "我们明天去北京开会", "北京，开会", "\ue000", "\xff\xfe", "a\u0301", strings.Repeat("長", 3000)} {
		f.Add(s)
	}
	db := openIndex(f)
	f.Fuzz(func(t *testing.T, s string) {
		doc := textsearch.IndexText(s)
		if strings.Contains(doc, "  ") || strings.HasPrefix(doc, " ") || strings.HasSuffix(doc, " ") {
			t.Fatalf("IndexText(%q) = %q: tokens not separated by single spaces", s, doc)
		}
		index(t, db, []string{s})
		q, err := textsearch.Parse(s)
		if err != nil || len(q.Terms()) > 4 {
			return
		}
		if got := search(t, db, q); len(got) != 1 {
			t.Fatalf("text %q not found by itself (%s)", s, q.FTS5())
		}
	})
}
