// Package textsearch is Parley's text analysis for message search: it
// turns a message's text into the tokens a full-text index stores
// (IndexText) and a user's query into terms over the same tokens (Parse),
// and renders those terms as a SQLite FTS5 MATCH expression (Query.FTS5)
// in which the query is data, never syntax.
//
// # Analysis
//
// Text is first normalised (Normalize): default-ignorable characters such
// as zero-width spaces, joiners, soft hyphens, bidi controls and variation
// selectors are removed, then the text is put in NFKC (full-width Latin
// becomes ASCII, half-width katakana becomes full-width, ligatures and
// circled digits come apart), case-folded and put in NFKC again.
//
// The normalised text is then cut into segments:
//
//   - A word is a run of letters, digits and combining marks outside the
//     CJK scripts: "Meeting", "2024", "naïve", "привет". A query word
//     matches equal words; the last word of a query also matches words it
//     is a prefix of ("meet" finds "meeting"), if it has at least
//     MinPrefixLen characters and nothing follows it in the query.
//   - A CJK run is a run of Han, Hiragana, Katakana or Hangul characters.
//     It is indexed as its overlapping bigrams, in order, plus each of its
//     characters once. A query run of two or more characters matches as
//     the phrase of its bigrams, so it finds exactly the texts in which it
//     is a substring of one run ("北京" and "京开会" find "我们明天去北京开会");
//     a one-character query run matches the character anywhere ("明").
//   - Everything else (spaces, punctuation, symbols, emoji) separates
//     segments and is not searchable.
//
// A query matches a text when every one of its terms does (AND). Words are
// cut to MaxTokenLen characters in texts and queries alike.
//
// The index side relies on the FTS5 tokenizer FTS5Tokenize, which splits
// IndexText's output on spaces only and leaves its tokens whole; a table
// indexed through IndexText must be declared with it. Changing anything
// in this package that changes IndexText's output for some text requires
// rebuilding every index built with the old output.
//
// The package has no state; everything in it is safe for concurrent use.
package textsearch
