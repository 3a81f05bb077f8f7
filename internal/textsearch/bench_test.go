package textsearch_test

import (
	"testing"

	"github.com/parley-im/parley/internal/textsearch"
)

// BenchmarkIndexText measures the analysis the search trigger runs for
// every stored message (the Go side of the indexing cost; FTS5's own is
// in internal/sqlite's BenchmarkAppendSearchIndex).
func BenchmarkIndexText(b *testing.B) {
	for _, tc := range []struct{ name, text string }{
		{"english", "hello there, how are you doing today? The meeting moved to Friday."},
		{"chinese", "你好，我们明天下午三点在北京开会，请准时到达会议室。"},
		{"mixed", "Ｍｅｅｔｉｎｇ at 10:30 in 北京 — café ☕ with Zoë"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.text)))
			for b.Loop() {
				textsearch.IndexText(tc.text)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		if _, err := textsearch.Parse("北京 Meeting tomo"); err != nil {
			b.Fatal(err)
		}
	}
}
