package parleytest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parley-im/parley"
)

// RunSearchTests runs the contract suite of parley.ConvStore's
// SearchMessages: one named subtest per promise of its doc comment and of
// SearchQuery's. Every Store implementation runs it next to
// RunStoreTests, with the same kind of open function (a fresh or shared
// database: each subtest works in an app of its own).
func RunSearchTests(t *testing.T, open func(t *testing.T) parley.Store) {
	ss := &storeSuite{open: open, prefix: storeRunPrefix(t)}
	t.Run("WordsPrefixAndCase", ss.testSearchWords)
	t.Run("ChineseSubstrings", ss.testSearchChinese)
	t.Run("OnlyTheUsersConversations", ss.testSearchOnlyMember)
	t.Run("ConversationFilter", ss.testSearchConvFilter)
	t.Run("NewestFirstInPages", ss.testSearchPages)
	t.Run("PagesStableWhileAppending", ss.testSearchPagesStable)
	t.Run("OneBatchManyConversations", ss.testSearchBatch)
	t.Run("BodyFields", ss.testSearchBodyFields)
	t.Run("DuplicateFoundOnce", ss.testSearchDuplicate)
	t.Run("ReturnsStoredMessages", ss.testSearchStoredMessages)
	t.Run("Invalid", ss.testSearchInvalid)
}

// say appends one message per body from sender, each in a batch of its
// own so that they are stored in the order given, and returns them as
// stored.
func (e *storeEnv) say(conv, sender string, kind parley.Kind, bodies ...string) []*parley.Message {
	e.t.Helper()
	var out []*parley.Message
	for _, body := range bodies {
		m := e.msg(conv, sender, "")
		m.Kind, m.Body = kind, json.RawMessage(body)
		if res := e.append(m); res[0].Err != nil || res[0].Dup {
			e.t.Fatalf("Append: got %+v, want the message stored", res[0])
		}
		out = append(out, m)
	}
	return out
}

// texts is say for text messages.
func (e *storeEnv) texts(conv, sender string, texts ...string) []*parley.Message {
	e.t.Helper()
	bodies := make([]string, len(texts))
	for i, s := range texts {
		b, _ := json.Marshal(map[string]string{"text": s})
		bodies[i] = string(b)
	}
	return e.say(conv, sender, parley.KindText, bodies...)
}

// search runs SearchMessages and fails the test on error.
func (e *storeEnv) search(user string, q parley.SearchQuery) parley.SearchResult {
	e.t.Helper()
	res, err := e.s.SearchMessages(e.ctx, e.app, user, q)
	if err != nil {
		e.t.Fatalf("SearchMessages(%s, %+v): got error %v, want nil", user, q, err)
	}
	return res
}

// wantFound checks which messages a search for text by user finds, by id,
// newest first, in one page.
func (e *storeEnv) wantFound(user, text string, want ...*parley.Message) {
	e.t.Helper()
	res := e.search(user, parley.SearchQuery{Text: text, Limit: parley.MaxSearchLimit})
	if got, w := foundIDs(res.Msgs), msgIDs(want); !slices.Equal(got, w) {
		e.t.Errorf("%s searches %q: got messages %q, want %q", user, text, got, w)
	}
	if res.Next != 0 {
		e.t.Errorf("%s searches %q: got Next %d with %d results, want 0", user, text, res.Next, len(res.Msgs))
	}
}

func foundIDs(msgs []parley.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

func msgIDs(msgs []*parley.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

func (ss *storeSuite) testSearchWords(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	m := e.texts(c, "alice", "Meeting tomorrow at 10:30", "no meat today", "MEETINGS are long", "Ｔｏｍｏｒｒｏｗ！", "Straße", "zero\u200bwidth")
	meeting, meat, meetings, fullWidth, strasse, zw := m[0], m[1], m[2], m[3], m[4], m[5]
	e.wantFound("alice", "meet", meetings, meeting)
	e.wantFound("bob", "meeting", meetings, meeting) // prefix: also "meetings"
	e.wantFound("alice", "meeting ", meeting)        // a finished word: exact
	e.wantFound("alice", "TOMORROW", fullWidth, meeting)
	e.wantFound("alice", "tomorrow meeting", meeting) // every word, in any order
	e.wantFound("alice", "10:30", meeting)
	e.wantFound("alice", "meat", meat)
	e.wantFound("alice", "STRASSE", strasse)
	e.wantFound("alice", "zerowidth", zw)
	e.wantFound("alice", "eting") // words match from their start only
	e.wantFound("alice", "meeting yesterday")
}

func (ss *storeSuite) testSearchChinese(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	m := e.texts(c, "bob", "我们明天去北京开会", "北京，开会", "明白了", "会议室在三楼", "ミーティングは明日")
	trip, split, got, room, jp := m[0], m[1], m[2], m[3], m[4]
	e.wantFound("alice", "北京", split, trip)
	e.wantFound("alice", "开会", split, trip)
	e.wantFound("alice", "明", jp, got, trip) // one character: anywhere
	e.wantFound("alice", "京开会", trip)        // a substring of one run only
	e.wantFound("alice", "我们明天去北京开会", trip)
	e.wantFound("alice", "北京 开会", split, trip) // two terms: both, anywhere
	e.wantFound("alice", "会议", room)
	e.wantFound("alice", "ティング", jp)
	e.wantFound("alice", "北开")
	e.wantFound("alice", "上海")
}

func (ss *storeSuite) testSearchOnlyMember(t *testing.T) {
	e := ss.env(t)
	ab, cd := e.direct("alice", "bob"), e.direct("carol", "dave")
	mine := e.texts(ab, "alice", "Meeting in 北京")
	theirs := e.texts(cd, "carol", "Meeting in 北京 too", "meeting again")
	e.wantFound("alice", "meeting", mine...)
	e.wantFound("bob", "北京", mine...)
	e.wantFound("carol", "meeting", theirs[1], theirs[0])
	e.wantFound("erin", "meeting") // in no conversation
	// The same ids in another app are other conversations.
	other := &storeEnv{t: t, ctx: e.ctx, s: e.s, app: ss.id("app"), ss: ss}
	other.texts(other.direct("alice", "bob"), "bob", "meeting elsewhere")
	e.wantFound("alice", "meeting", mine...)
	e.wantFound("alice", "elsewhere")
}

func (ss *storeSuite) testSearchConvFilter(t *testing.T) {
	e := ss.env(t)
	ab, ac, cd := e.direct("alice", "bob"), e.direct("alice", "carol"), e.direct("carol", "dave")
	withBob := e.texts(ab, "bob", "lunch?")
	withCarol := e.texts(ac, "carol", "lunch!")
	e.texts(cd, "dave", "lunch at noon")
	e.wantFound("alice", "lunch", withCarol[0], withBob[0])
	for _, tc := range []struct {
		conv string
		want []*parley.Message
	}{
		{ab, withBob},
		{ac, withCarol},
		{cd, nil}, // not alice's: nothing, no error
		{parley.DirectConvID("alice", "zed"), nil}, // does not exist
	} {
		res := e.search("alice", parley.SearchQuery{Text: "lunch", ConvID: tc.conv})
		if got, want := foundIDs(res.Msgs), msgIDs(tc.want); !slices.Equal(got, want) {
			t.Errorf("alice searches lunch in %s: got %q, want %q", tc.conv, got, want)
		}
	}
}

// pages reads every page of a search with the given page size.
func (e *storeEnv) pages(user string, q parley.SearchQuery) (ids []string, sizes []int) {
	e.t.Helper()
	for range 100 {
		res := e.search(user, q)
		ids = append(ids, foundIDs(res.Msgs)...)
		sizes = append(sizes, len(res.Msgs))
		if res.Next == 0 {
			return ids, sizes
		}
		if q.Before != 0 && res.Next >= q.Before {
			e.t.Fatalf("Next %d after Before %d: cursors must decrease", res.Next, q.Before)
		}
		q.Before = res.Next
	}
	e.t.Fatal("more than 100 pages")
	return nil, nil
}

func (ss *storeSuite) testSearchPages(t *testing.T) {
	e := ss.env(t)
	ab, ac := e.direct("alice", "bob"), e.direct("alice", "carol")
	var want []*parley.Message
	for i := range 25 {
		conv := ab
		if i%3 == 0 {
			conv = ac
		}
		want = append(want, e.texts(conv, "alice", "report "+strings.Repeat("x", i))...)
		e.texts(conv, "alice", "unrelated")
	}
	slices.Reverse(want)
	ids, sizes := e.pages("alice", parley.SearchQuery{Text: "report", Limit: 10})
	if !slices.Equal(ids, msgIDs(want)) {
		t.Errorf("pages of 10: got %q, want %q (newest first)", ids, msgIDs(want))
	}
	if !slices.Equal(sizes, []int{10, 10, 5}) {
		t.Errorf("pages of 10 over 25 matches: got sizes %v, want [10 10 5]", sizes)
	}
	if res := e.search("alice", parley.SearchQuery{Text: "report"}); len(res.Msgs) != parley.DefaultSearchLimit || res.Next == 0 {
		t.Errorf("Limit 0: got %d messages and Next %d, want %d and a cursor", len(res.Msgs), res.Next, parley.DefaultSearchLimit)
	}
	if res := e.search("alice", parley.SearchQuery{Text: "report", Limit: 25}); len(res.Msgs) != 25 || res.Next != 0 {
		t.Errorf("Limit 25 over 25 matches: got %d messages and Next %d, want 25 and 0", len(res.Msgs), res.Next)
	}
	// A page of one conversation pages within it.
	var inAC []string
	for _, m := range want {
		if m.ConvID == ac {
			inAC = append(inAC, m.ID)
		}
	}
	if ids, _ := e.pages("alice", parley.SearchQuery{Text: "report", ConvID: ac, Limit: 3}); !slices.Equal(ids, inAC) {
		t.Errorf("pages of 3 in %s: got %q, want %q", ac, ids, inAC)
	}
}

func (ss *storeSuite) testSearchPagesStable(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	var old []*parley.Message
	for i := range 6 {
		old = append(old, e.texts(c, "bob", "news "+strings.Repeat("!", i))...)
	}
	slices.Reverse(old)
	first := e.search("alice", parley.SearchQuery{Text: "news", Limit: 2})
	e.texts(c, "bob", "more news", "even more news") // stored between pages
	got := foundIDs(first.Msgs)
	rest, _ := e.pages("alice", parley.SearchQuery{Text: "news", Limit: 2, Before: first.Next})
	if got = append(got, rest...); !slices.Equal(got, msgIDs(old)) {
		t.Errorf("pages while appending: got %q, want %q", got, msgIDs(old))
	}
}

func (ss *storeSuite) testSearchBatch(t *testing.T) {
	e := ss.env(t)
	convs := []string{e.direct("alice", "bob"), e.direct("alice", "carol"), e.direct("alice", "dave")}
	var batch []*parley.Message
	for i := range 12 {
		m := e.msg(convs[i%3], "alice", "")
		m.Body = json.RawMessage(`{"text":"batch ` + strings.Repeat("x", i) + `"}`)
		batch = append(batch, m)
	}
	e.append(batch...)
	res := e.search("alice", parley.SearchQuery{Text: "batch", Limit: 20})
	if len(res.Msgs) != len(batch) {
		t.Fatalf("search after one batch: got %d messages, want %d", len(res.Msgs), len(batch))
	}
	last := map[string]uint64{}
	for _, m := range res.Msgs {
		if prev, ok := last[m.ConvID]; ok && m.Seq >= prev {
			t.Errorf("%s: seq %d after seq %d, want descending seqs within a conversation", m.ConvID, m.Seq, prev)
		}
		last[m.ConvID] = m.Seq
	}
}

func (ss *storeSuite) testSearchBodyFields(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	m := e.say(c, "alice", parley.KindCustom,
		`{"title":"Quarterly report","amount":12}`,
		`{"name":"holiday-photo.jpg","size":1234,"caption":"Sunset"}`,
		`{"order":"A-123","text":"your order shipped"}`,
		`{"description":"not indexed","title":42}`,
		`{"nested":{"text":"not indexed either"}}`)
	report, photo, order := m[0], m[1], m[2]
	sys := e.say(c, parley.SystemUserID, parley.KindSystem, `{"text":"Bob joined the conversation"}`)
	file := e.say(c, "bob", parley.KindFile, `{"file":"aaaaaaaaaaaaaaaaaaaaaaaaaa","name":"季度报告.pdf","size":10,"mime":"application/pdf","caption":"final version"}`)
	place := e.say(c, "bob", parley.KindLocation, `{"lat":39.9,"lng":116.4,"name":"Forbidden City","address":"4 Jingshan Front St, Beijing"}`)
	e.wantFound("alice", "quarterly", report)
	e.wantFound("alice", "holiday photo", photo)
	e.wantFound("alice", "sunset", photo)
	e.wantFound("alice", "shipped", order)
	e.wantFound("alice", "joined", sys...)
	e.wantFound("alice", "报告", file...)
	e.wantFound("alice", "final", file...)
	e.wantFound("alice", "forbidden city", place...)
	e.wantFound("alice", "beijing", place...)
	e.wantFound("alice", "application") // the media type is not text
	e.wantFound("alice", "indexed")
	e.wantFound("alice", "42")
	e.wantFound("alice", "a-123") // only the fields above are searchable
}

func (ss *storeSuite) testSearchDuplicate(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	first := e.msg(c, "alice", "cm1")
	first.Body = json.RawMessage(`{"text":"only once"}`)
	again := *first
	again.ID = e.ss.id("m")
	e.append(first)
	if res := e.append(&again); !res[0].Dup {
		t.Fatalf("Append of a repeated cmid: got %+v, want Dup", res[0])
	}
	e.wantFound("alice", "once", first)
}

func (ss *storeSuite) testSearchStoredMessages(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	m := e.msg(c, "bob", "cm-7")
	m.Body = json.RawMessage(`{"text":"every field comes back"}`)
	e.append(m)
	res := e.search("alice", parley.SearchQuery{Text: "field"})
	if len(res.Msgs) != 1 {
		t.Fatalf("search: got %d messages, want 1", len(res.Msgs))
	}
	if d := cmp.Diff(*m, res.Msgs[0], storeCmpOpts()); d != "" {
		t.Errorf("found message differs from the stored one (-stored +found):\n%s", d)
	}
}

func (ss *storeSuite) testSearchInvalid(t *testing.T) {
	e := ss.env(t)
	e.texts(e.direct("alice", "bob"), "alice", "hello")
	for _, tc := range []struct {
		name string
		q    parley.SearchQuery
	}{
		{"empty", parley.SearchQuery{}},
		{"too long", parley.SearchQuery{Text: strings.Repeat("北", parley.MaxSearchLen+1)}},
		{"not UTF-8", parley.SearchQuery{Text: "hel\xfflo"}},
		{"nothing to search for", parley.SearchQuery{Text: "?!… 🎉"}},
		{"negative limit", parley.SearchQuery{Text: "hello", Limit: -1}},
		{"limit too large", parley.SearchQuery{Text: "hello", Limit: parley.MaxSearchLimit + 1}},
		{"conv too long", parley.SearchQuery{Text: "hello", ConvID: strings.Repeat("c", parley.MaxConvIDLen+1)}},
	} {
		_, err := e.s.SearchMessages(e.ctx, e.app, "alice", tc.q)
		wantStoreCode(t, "SearchMessages, "+tc.name, err, parley.EInvalid)
	}
	// The longest query is fine.
	if _, err := e.s.SearchMessages(e.ctx, e.app, "alice", parley.SearchQuery{Text: strings.Repeat("北", parley.MaxSearchLen)}); err != nil {
		t.Errorf("SearchMessages with %d characters: got error %v, want nil", parley.MaxSearchLen, err)
	}
}
