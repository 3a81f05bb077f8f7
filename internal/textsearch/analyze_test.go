package textsearch_test

import (
	"strings"
	"testing"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/textsearch"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"ascii lower", "Meeting TOMORROW", "meeting tomorrow"},
		{"full-width latin", "ＭＥＥＴ１２", "meet12"},
		{"zero-width inside a word", "me\u200bet\u200din\u2060g\ufeff", "meeting"},
		{"soft hyphen", "meet\u00ading", "meeting"},
		{"bidi controls", "\u202emeeting\u202c", "meeting"},
		{"variation selector", "北\ufe00京", "北京"},
		{"sharp s folds", "Straße", "strasse"},
		{"final sigma folds", "ΟΔΟΣ οδος", "οδοσ οδοσ"},
		{"half-width katakana", "ｶﾞｲﾄﾞ", "ガイド"},
		{"ligature", "ﬁnal", "final"},
		{"circled digit", "①", "1"},
		{"compatibility jamo compose", "ㄱ", "ᄀ"},
		{"han unchanged", "我们明天去北京开会", "我们明天去北京开会"},
		{"invalid utf-8 dropped", "me\xffet", "meet"},
		{"combining accent composes", "cafe\u0301", "café"},
	} {
		if got := textsearch.Normalize(tc.in); got != tc.want {
			t.Errorf("%s: Normalize(%q): got %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestIndexText(t *testing.T) {
	const brk = "\ue000"
	for _, tc := range []struct{ name, in, want string }{
		{"words", "Meeting tomorrow, 10:30!", "meeting tomorrow 10 30"},
		{"chinese run", "我们明天去北京开会", "我们 们明 明天 天去 去北 北京 京开 开会 京 们 会 北 去 天 开 我 明"},
		{"one character", "好", "好"},
		{"runs split by punctuation get a break", "北京，开会", "北京 " + brk + " 开会 京 会 北 开"},
		{"runs split by a word need no break", "去Beijing开会", "beijing 开会 会 去 开"},
		{"a single character between runs", "北京、好、京都", "北京 " + brk + " 京都 京 北 好 都"},
		{"characters once", "哈哈哈", "哈哈 哈哈 哈"},
		{"japanese", "ミーティング", "ミー ーテ ティ ィン ング ィ グ テ ミ ン ー"},
		{"korean", "회의", "회의 의 회"},
		{"nothing searchable", "!!! ... 🎉", ""},
		{"long word cut", strings.Repeat("a", 100), strings.Repeat("a", textsearch.MaxTokenLen)},
		{"private use is a separator", "a\ue000b", "a b"},
	} {
		if got := textsearch.IndexText(tc.in); got != tc.want {
			t.Errorf("%s: IndexText(%q):\n got %q\nwant %q", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"prefix on the last word", "meet", `"meet"*`},
		{"case folded", "TOMORROW", `"tomorrow"*`},
		{"only the last word is a prefix", "Meeting tomo", `"meeting" AND "tomo"*`},
		{"a trailing space ends the word", "meet ", `"meet"`},
		{"no prefix under MinPrefixLen", "m", `"m"`},
		{"cjk run is a bigram phrase", "北京开会", `"北京 京开 开会"`},
		{"one cjk character", "明", `"明"`},
		{"cjk is never a prefix", "会议", `"会议"`},
		{"mixed", "北京 meet", `"北京" AND "meet"*`},
		{"duplicates once", "a a a b", `"a" AND "b"`},
		{"syntax is data", `"x" OR y* NEAR(z) col:w AND NOT ^v`, `"x" AND "or" AND "y" AND "near" AND "z" AND "col" AND "w" AND "and" AND "not" AND "v"`},
		{"zero-width joined", "mee\u200bting", `"meeting"*`},
	} {
		q, err := textsearch.Parse(tc.in)
		if err != nil {
			t.Errorf("%s: Parse(%q): got error %v, want nil", tc.name, tc.in, err)
			continue
		}
		if got := q.FTS5(); got != tc.want {
			t.Errorf("%s: Parse(%q).FTS5(): got %s, want %s", tc.name, tc.in, got, tc.want)
		}
	}
	for _, in := range []string{"", " ", "!?。，", "🎉🎉", "\u200b", "...", "\ue000"} {
		if _, err := textsearch.Parse(in); parley.ErrorCode(err) != parley.EInvalid {
			t.Errorf("Parse(%q): got error %v, want code %q", in, err, parley.EInvalid)
		}
	}
	var many []string
	for i := range textsearch.MaxTerms + 1 {
		many = append(many, "w"+strings.Repeat("x", i))
	}
	if _, err := textsearch.Parse(strings.Join(many, " ")); parley.ErrorCode(err) != parley.EInvalid {
		t.Errorf("Parse with %d words: got error %v, want code %q", len(many), err, parley.EInvalid)
	}
	if _, err := textsearch.Parse(strings.Join(many[:textsearch.MaxTerms], " ")); err != nil {
		t.Errorf("Parse with %d words: got error %v, want nil", textsearch.MaxTerms, err)
	}
}
