package postgres

import (
	"strings"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/textsearch"
)

// TestTsQuery: terms become quoted lexemes, phrases of CJK bigrams <->,
// the prefix :*, all joined by &; quotes and backslashes cannot end a
// lexeme.
func TestTsQuery(t *testing.T) {
	for _, tc := range []struct{ q, want string }{
		{"meet", `'meet':*`},
		{"meet ", `'meet'`},
		{"北京 meeting", `'北京' & 'meeting':*`},
		{"我们明天", `('我们' <-> '们明' <-> '明天')`},
		{"明", `'明'`},
		{"it's", `'it' & 's'`},
	} {
		q, err := textsearch.Parse(tc.q)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.q, err)
		}
		if got := tsQuery(q); got != tc.want {
			t.Errorf("tsQuery(%q): got %s, want %s", tc.q, got, tc.want)
		}
	}
	var b strings.Builder
	quoteLexeme(&b, `a'b\c`)
	if got, want := b.String(), `'a''b\\c'`; got != want {
		t.Errorf("quoteLexeme: got %s, want %s", got, want)
	}
}

// TestSearchDoc: each token at its position in IndexText's output, CJK
// characters once after the bigrams, in code point order; no text, no
// lexemes.
func TestSearchDoc(t *testing.T) {
	got := searchDoc(parley.KindText, []byte(`{"text":"Go go 北京"}`))
	if want := `'go':1,2 '北京':3 '京':4 '北':5`; got != want {
		t.Errorf("searchDoc: got %s, want %s", got, want)
	}
	if got := searchDoc(parley.KindRecalled, []byte(`{}`)); got != "" {
		t.Errorf("searchDoc of a recalled message: got %q, want empty", got)
	}
}
