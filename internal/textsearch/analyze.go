package textsearch

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of the analysis.
const (
	// MaxTokenLen is how many characters of a word are kept, in texts
	// and queries alike: longer words match on their first MaxTokenLen
	// characters.
	MaxTokenLen = 64
	// MinPrefixLen is the fewest characters a query's last word needs to
	// match as a prefix. A one-letter prefix would match a good part of
	// the vocabulary, which FTS5 merges in memory before it can return a
	// row; a one-letter word matches only itself.
	MinPrefixLen = 2
)

// FTS5Tokenize is the tokenize option of every FTS5 table indexed through
// IndexText: unicode61 with letters, digits, marks, private-use and
// unassigned characters (as Unicode 6.1 knows them) as token characters,
// so that it splits IndexText's output on its spaces only, and with
// diacritics kept, so that it changes no token Normalize made.
const FTS5Tokenize = `unicode61 remove_diacritics 0 categories 'L* N* M* Co Cn'`

// runBreak stands between the bigrams of two CJK runs that no word
// separates, so that no phrase of bigrams matches across the gap
// ("北京。京都" must not match "北京都"). It is a private-use character:
// segments treats those as separators, so no query has it as a token.
const runBreak = "\ue000"

type segKind uint8

const (
	segNone segKind = iota // a separator
	segWord
	segCJK
	segMark // a combining mark: continues the segment before it
)

// classify returns the segment kind that r belongs to.
func classify(r rune) segKind {
	if r < utf8.RuneSelf { // the common case, without table lookups
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
			return segWord
		}
		return segNone
	}
	switch {
	case unicode.IsMark(r):
		return segMark
	case !unicode.IsLetter(r) && !unicode.IsNumber(r):
		return segNone
	case unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul), r == 'ー':
		// U+30FC, the katakana prolonged sound mark, is of the Common
		// script but only ever appears inside Japanese words.
		return segCJK
	}
	return segWord
}

// segments calls f with each word and CJK run of the normalised text s, in
// order, and the byte offset in s just past it.
func segments(s string, f func(kind segKind, seg string, end int)) {
	cur, start := segNone, 0
	for i, r := range s {
		k := classify(r)
		if k == segMark {
			if cur != segNone {
				continue
			}
			k = segWord // a mark with nothing to combine with starts a word
		}
		if k == cur {
			continue
		}
		if cur != segNone {
			f(cur, s[start:i], i)
		}
		cur, start = k, i
	}
	if cur != segNone {
		f(cur, s[start:], len(s))
	}
}

// truncate cuts a word to MaxTokenLen characters.
func truncate(w string) string {
	n := 0
	for i := range w {
		if n == MaxTokenLen {
			return w[:i]
		}
		n++
	}
	return w
}

// bigrams calls f with each pair of adjacent characters of run, in order.
func bigrams(run string, f func(bigram string)) {
	prev := -1
	for i := range run {
		if prev >= 0 {
			_, n := utf8.DecodeRuneInString(run[i:])
			f(run[prev : i+n])
		}
		prev = i
	}
}

// IndexText returns the document to index for text s: its tokens (see the
// package comment) separated by single spaces. Words and the bigrams of
// CJK runs come first, in the order of the text, so that phrases of
// bigrams match only where the text has the whole query run; then each
// CJK character once, in code point order, for one-character queries. It
// returns "" for a text with nothing searchable.
func IndexText(s string) string {
	norm := Normalize(s)
	var b strings.Builder
	b.Grow(2 * len(norm)) // words once; CJK about twice (bigrams) and once more (characters)
	emit := func(tok string) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(tok)
	}
	var chars []rune      // every CJK character
	afterBigrams := false // the last tokens emitted were a run's bigrams
	segments(norm, func(k segKind, seg string, _ int) {
		if k == segWord {
			emit(truncate(seg))
			afterBigrams = false
			return
		}
		for _, r := range seg {
			chars = append(chars, r)
		}
		if utf8.RuneCountInString(seg) < 2 {
			return // no bigram; its character is in chars
		}
		if afterBigrams {
			emit(runBreak)
		}
		bigrams(seg, emit)
		afterBigrams = true
	})
	// Positions do not matter for single characters: each once is enough.
	slices.Sort(chars)
	for _, c := range slices.Compact(chars) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}
