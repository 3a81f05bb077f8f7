package textsearch

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Normalize returns s in the form search compares text in: without
// default-ignorable characters (zero-width spaces and joiners, soft
// hyphens, bidi controls, variation selectors, Hangul fillers; every
// character of category Cf) and without invalid UTF-8, then NFKC,
// case-folded (full Unicode case folding: "ß" becomes "ss") and NFKC
// again. Normalize(Normalize(s)) == Normalize(s).
func Normalize(s string) string {
	if isASCII(s) {
		// The common case, and a cheap one: ASCII has no ignorable
		// characters, is its own NFKC, and folds to lower case.
		return strings.ToLower(s)
	}
	return normalizeAll(s)
}

// normalizeAll is Normalize without the ASCII shortcut.
func normalizeAll(s string) string {
	s = norm.NFKC.String(stripIgnorable(s))
	// A Caser may keep state between calls; one per call is the safe use
	// and costs one small allocation. x/text folds Cherokee to lower case
	// and its lower case back to upper case; lowering after folding makes
	// both one form (and is a no-op for every other script).
	folded := strings.ToLower(cases.Fold().String(s))
	if folded == s {
		return s // nothing to fold: Chinese, Japanese, lower-case text
	}
	// Folding can leave text that is not NFKC ("ǰ" folds to "j" and a
	// combining caron, which NFKC composes again).
	return norm.NFKC.String(folded)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// ignorable reports whether r is removed before anything else: a
// character that is invisible or only changes how text around it is
// rendered, and so can hide inside a word without the reader seeing it.
func ignorable(r rune) bool {
	return unicode.In(r, unicode.Cf, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point)
}

// stripIgnorable removes the ignorable characters and invalid UTF-8 from
// s. It returns s itself when there is nothing to remove.
func stripIgnorable(s string) string {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || ignorable(r) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !(r == utf8.RuneError && n == 1) && !ignorable(r) {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
