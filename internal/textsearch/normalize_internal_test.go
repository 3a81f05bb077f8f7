package textsearch

import (
	"unicode"

	"testing"

	"pgregory.net/rapid"
)

// TestNormalizeASCIIFastPath: the ASCII shortcut gives what the full
// pipeline gives.
func TestNormalizeASCIIFastPath(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.StringOf(rapid.RuneFrom(nil, &rapidASCII)).Draw(t, "s")
		if got, slow := Normalize(s), normalizeAll(s); got != slow {
			t.Fatalf("Normalize(%q): got %q, want %q", s, got, slow)
		}
	})
}

// TestClassifyASCIIFastPath: the ASCII shortcut of classify agrees with
// the Unicode tables.
func TestClassifyASCIIFastPath(t *testing.T) {
	for r := rune(0); r < 0x80; r++ {
		want := segNone
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			want = segWord
		}
		if got := classify(r); got != want {
			t.Errorf("classify(%q): got %d, want %d", r, got, want)
		}
	}
}

var rapidASCII = rangeTable(0, 0x7f)

func rangeTable(lo, hi uint16) unicode.RangeTable {
	return unicode.RangeTable{R16: []unicode.Range16{{Lo: lo, Hi: hi, Stride: 1}}}
}
