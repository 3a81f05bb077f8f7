package parleytest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parley-im/parley"
)

// RunGroupStoreTests runs the parley.GroupStore contract suite, and the
// parts of the ConvStore contract that groups change (sync by the
// conversation's version, former members), against the stores open
// returns (as RunStoreTests).
func RunGroupStoreTests(t *testing.T, open func(t *testing.T) parley.Store) {
	ss := &storeSuite{open: open, prefix: storeRunPrefix(t)}
	t.Run("CreateThenRead", ss.testGroupCreate)
	t.Run("CreateConflicts", ss.testGroupCreateConflicts)
	t.Run("Rules", ss.testGroupRules)
	t.Run("ChangesTakeGaplessSeqs", ss.testGroupSeqs)
	t.Run("FormerMember", ss.testGroupFormerMember)
	t.Run("MessageMovesConversationVer", ss.testGroupMessageVer)
	t.Run("ReadIsTheReadersOwnChange", ss.testGroupReadOwn)
	t.Run("ChangesPageAcrossDirectAndGroups", ss.testGroupChangesPaging)
	t.Run("ConversationsIncludeGroups", ss.testGroupConversations)
	t.Run("ReadReceipts", ss.testGroupReadReceipts)
	t.Run("MaxMembersUnderConcurrency", ss.testGroupMaxConcurrent)
	t.Run("Profile", ss.testGroupProfile)
}

// group creates a group owned by owner with members and returns its
// conversation id.
func (e *storeEnv) group(id, owner string, max int, members ...string) string {
	e.t.Helper()
	g := &parley.Group{AppID: e.app, ID: id, Name: "G " + id, Owner: owner, MaxMembers: max}
	msg := e.sysMsg()
	msg.Body = parley.CreatedBody(g, owner, members)
	if err := e.s.CreateGroup(e.ctx, g, members, msg); err != nil {
		e.t.Fatalf("CreateGroup(%s): got error %v, want nil", id, err)
	}
	if msg.Seq != 1 || msg.ConvID != parley.GroupConvID(id) {
		e.t.Fatalf("CreateGroup(%s): message got seq %d conv %q, want 1 and %q", id, msg.Seq, msg.ConvID, parley.GroupConvID(id))
	}
	return parley.GroupConvID(id)
}

func (e *storeEnv) sysMsg() *parley.Message {
	return &parley.Message{AppID: e.app, ID: e.ss.id("m"), Sender: parley.SystemUserID, Kind: parley.KindSystem,
		Body: json.RawMessage(`{}`), Time: 1_700_000_000_000 + int64(e.ss.n.Load())}
}

// change applies a group change and returns the error and the message.
func (e *storeEnv) change(c parley.GroupChange) (*parley.Message, bool, error) {
	e.t.Helper()
	c.AppID = e.app
	if c.Now == 0 {
		c.Now = 1_700_000_000_000
	}
	if err := c.Validate(); err != nil {
		e.t.Fatalf("change %+v fails Validate: %v", c, err)
	}
	msg := e.sysMsg()
	changed, err := e.s.ChangeGroup(e.ctx, c, msg)
	return msg, changed, err
}

// mustChange applies a change that must succeed and change something.
func (e *storeEnv) mustChange(c parley.GroupChange) *parley.Message {
	e.t.Helper()
	msg, changed, err := e.change(c)
	if err != nil || !changed {
		e.t.Fatalf("ChangeGroup(%s by %s %v): got changed %v, error %v, want a change", c.Event, c.Actor, c.Users, changed, err)
	}
	return msg
}

func (e *storeEnv) members(group string) map[string]parley.GroupRole {
	e.t.Helper()
	out := map[string]parley.GroupRole{}
	after := ""
	for {
		page, err := e.s.GroupMembers(e.ctx, e.app, group, after, 2)
		if err != nil {
			e.t.Fatalf("GroupMembers: got error %v, want nil", err)
		}
		for _, m := range page {
			if m.User <= after {
				e.t.Fatalf("GroupMembers: %q after %q, want ascending", m.User, after)
			}
			out[m.User] = m.Role
			after = m.User
		}
		if len(page) < 2 {
			return out
		}
	}
}

func (ss *storeSuite) testGroupCreate(t *testing.T) {
	e := ss.env(t)
	conv := e.group("g1", "olga", 10, "bob", "amy", "olga", "bob")
	g, err := e.s.Group(e.ctx, e.app, "g1")
	if err != nil {
		t.Fatalf("Group: got error %v, want nil", err)
	}
	if g.Owner != "olga" || g.Members != 3 || g.MaxMembers != 10 || g.Name != "G g1" || g.Conv != conv || g.Dissolved || g.CreatedAt == 0 {
		t.Errorf("Group: got %+v, want owner olga, 3 members, max 10, name %q, conv %s", g, "G g1", conv)
	}
	want := map[string]parley.GroupRole{"olga": parley.GroupRoleOwner, "amy": parley.GroupRoleMember, "bob": parley.GroupRoleMember}
	if got := e.members("g1"); !cmp.Equal(got, want) {
		t.Errorf("GroupMembers: got %v, want %v", got, want)
	}
	if ids, err := e.s.Members(e.ctx, e.app, conv); err != nil || !cmp.Equal(ids, []string{"amy", "bob", "olga"}) {
		t.Errorf("Members: got %q, %v, want amy bob olga", ids, err)
	}
	msgs := e.all(conv)
	if len(msgs) != 1 || msgs[0].Kind != parley.KindSystem || msgs[0].Seq != 1 {
		t.Fatalf("messages after create: got %+v, want one system message", msgs)
	}
	st := e.state("amy", conv)
	if st.Kind != parley.ConvGroup || st.LastSeq != 1 || st.Unread != 1 || st.Left {
		t.Errorf("amy's state: got %+v, want a group with LastSeq 1, Unread 1", st)
	}
	if _, err := e.s.Group(e.ctx, e.app, "nope"); parley.ErrorCode(err) != parley.ENotFound {
		t.Errorf("Group(nope): got %v, want not_found", err)
	}
	if _, err := e.s.GroupMembers(e.ctx, e.app, "nope", "", 10); parley.ErrorCode(err) != parley.ENotFound {
		t.Errorf("GroupMembers(nope): got %v, want not_found", err)
	}
	m, err := e.s.GroupMember(e.ctx, e.app, "g1", "olga")
	if err != nil || m.Role != parley.GroupRoleOwner || !m.Active() {
		t.Errorf("GroupMember(olga): got %+v, %v, want the active owner", m, err)
	}
	_, err = e.s.GroupMember(e.ctx, e.app, "g1", "zed")
	wantStoreCode(t, "GroupMember of a stranger", err, parley.EForbidden)
	_, err = e.s.GroupMember(e.ctx, e.app, "nope", "olga")
	wantStoreCode(t, "GroupMember of an unknown group", err, parley.ENotFound)
}

func (ss *storeSuite) testGroupCreateConflicts(t *testing.T) {
	e := ss.env(t)
	e.group("g1", "olga", 10)
	for name, g := range map[string]*parley.Group{
		"taken id":     {AppID: e.app, ID: "g1", Owner: "amy", MaxMembers: 10},
		"over the max": {AppID: e.app, ID: "g2", Owner: "amy", MaxMembers: 2},
	} {
		err := e.s.CreateGroup(e.ctx, g, []string{"b", "c"}, e.sysMsg())
		wantStoreCode(t, "CreateGroup, "+name, err, parley.EConflict)
	}
	if _, err := e.s.Group(e.ctx, e.app, "g2"); parley.ErrorCode(err) != parley.ENotFound {
		t.Errorf("a refused create left a group: %v", err)
	}
}

func (ss *storeSuite) testGroupRules(t *testing.T) {
	e := ss.env(t)
	e.group("g", "olga", 6, "adam", "ann", "mia", "max")
	e.mustChange(parley.GroupChange{GroupID: "g", Actor: "olga", Event: parley.EventRole, Users: []string{"adam"}, Role: parley.GroupRoleAdmin})
	e.mustChange(parley.GroupChange{GroupID: "g", Actor: "olga", Event: parley.EventRole, Users: []string{"ann"}, Role: parley.GroupRoleAdmin})
	for _, tc := range []struct {
		name string
		c    parley.GroupChange
		code string
	}{
		{"member invites", parley.GroupChange{Actor: "mia", Event: parley.EventJoined, Users: []string{"zoe"}}, parley.EForbidden},
		{"stranger invites", parley.GroupChange{Actor: "zed", Event: parley.EventJoined, Users: []string{"zoe"}}, parley.EForbidden},
		{"member removes member", parley.GroupChange{Actor: "mia", Event: parley.EventRemoved, Users: []string{"max"}}, parley.EForbidden},
		{"admin removes admin", parley.GroupChange{Actor: "adam", Event: parley.EventRemoved, Users: []string{"ann"}}, parley.EForbidden},
		{"admin removes owner", parley.GroupChange{Actor: "adam", Event: parley.EventRemoved, Users: []string{"olga"}}, parley.EConflict},
		{"system removes owner", parley.GroupChange{Actor: parley.SystemUserID, Event: parley.EventRemoved, Users: []string{"olga"}}, parley.EConflict},
		{"remove a stranger", parley.GroupChange{Actor: "olga", Event: parley.EventRemoved, Users: []string{"zed"}}, parley.ENotFound},
		{"remove oneself", parley.GroupChange{Actor: "adam", Event: parley.EventRemoved, Users: []string{"adam"}}, parley.EInvalid},
		{"admin sets roles", parley.GroupChange{Actor: "adam", Event: parley.EventRole, Users: []string{"mia"}, Role: parley.GroupRoleAdmin}, parley.EForbidden},
		{"admin transfers", parley.GroupChange{Actor: "adam", Event: parley.EventTransferred, Users: []string{"mia"}}, parley.EForbidden},
		{"admin dissolves", parley.GroupChange{Actor: "adam", Event: parley.EventDissolved}, parley.EForbidden},
		{"admin mutes admin", parley.GroupChange{Actor: "adam", Event: parley.EventMuted, Users: []string{"ann"}, MutedUntil: 1_700_000_100_000}, parley.EForbidden},
		{"member mutes all", parley.GroupChange{Actor: "mia", Event: parley.EventMuteAll, MuteAll: true}, parley.EForbidden},
		{"member edits the profile", parley.GroupChange{Actor: "mia", Event: parley.EventProfile, Profile: parley.GroupProfile{Name: ptr("x")}}, parley.EForbidden},
		{"owner leaves", parley.GroupChange{Actor: "olga", Event: parley.EventLeft}, parley.EConflict},
		{"stranger leaves", parley.GroupChange{Actor: "zed", Event: parley.EventLeft}, parley.EForbidden},
		{"over the max", parley.GroupChange{Actor: "olga", Event: parley.EventJoined, Users: []string{"x1", "x2"}}, parley.EConflict},
	} {
		tc.c.GroupID = "g"
		_, changed, err := e.change(tc.c)
		if got := parley.ErrorCode(err); got != tc.code || changed {
			t.Errorf("%s: got changed %v, error %v, want code %q", tc.name, changed, err, tc.code)
		}
	}
	if got := e.all(parley.GroupConvID("g")); len(got) != 3 {
		t.Errorf("refused changes stored messages: got %d, want 3", len(got))
	}
	// What each role may do.
	e.mustChange(parley.GroupChange{GroupID: "g", Actor: "adam", Event: parley.EventJoined, Users: []string{"x1"}})
	e.mustChange(parley.GroupChange{GroupID: "g", Actor: "adam", Event: parley.EventRemoved, Users: []string{"x1"}})
	e.mustChange(parley.GroupChange{GroupID: "g", Actor: "adam", Event: parley.EventMuted, Users: []string{"mia"}, MutedUntil: 1_700_000_100_000})
	e.mustChange(parley.GroupChange{GroupID: "g", Actor: "olga", Event: parley.EventMuted, Users: []string{"ann"}, MutedUntil: 1_700_000_100_000})
	e.mustChange(parley.GroupChange{GroupID: "g", Actor: "ann", Event: parley.EventMuteAll, MuteAll: true})
	if _, changed, err := e.change(parley.GroupChange{GroupID: "g", Actor: "ann", Event: parley.EventMuteAll, MuteAll: true}); changed || err != nil {
		t.Errorf("mute all twice: got changed %v, error %v, want no change and no error", changed, err)
	}
	if _, changed, err := e.change(parley.GroupChange{GroupID: "g", Actor: "olga", Event: parley.EventJoined, Users: []string{"mia", "max"}}); changed || err != nil {
		t.Errorf("adding members: got changed %v, error %v, want no change and no error", changed, err)
	}
	e.mustChange(parley.GroupChange{GroupID: "g", Actor: "max", Event: parley.EventLeft})
	m, err := e.s.GroupMember(e.ctx, e.app, "g", "mia")
	if err != nil || m.MutedUntil != 1_700_000_100_000 {
		t.Errorf("GroupMember(mia) after a mute: got %+v, %v", m, err)
	}
	e.mustChange(parley.GroupChange{GroupID: "g", Actor: "olga", Event: parley.EventTransferred, Users: []string{"mia"}})
	g, err := e.s.Group(e.ctx, e.app, "g")
	if err != nil || g.Owner != "mia" || !g.MuteAll || g.Members != 4 {
		t.Fatalf("Group after changes: got %+v, %v, want owner mia, mute_all, 4 members", g, err)
	}
	want := map[string]parley.GroupRole{"olga": parley.GroupRoleAdmin, "mia": parley.GroupRoleOwner, "adam": parley.GroupRoleAdmin, "ann": parley.GroupRoleAdmin, "x1": "", "max": ""}
	got := e.members("g")
	for u, r := range want {
		if got[u] != r {
			t.Errorf("role of %s: got %q, want %q", u, got[u], r)
		}
	}
	e.mustChange(parley.GroupChange{GroupID: "g", Actor: "olga", Event: parley.EventLeft}) // no longer the owner
	e.mustChange(parley.GroupChange{GroupID: "g", Actor: "mia", Event: parley.EventDissolved})
	for _, c := range []parley.GroupChange{
		{GroupID: "g", Actor: "mia", Event: parley.EventJoined, Users: []string{"zoe"}},
		{GroupID: "g", Actor: parley.SystemUserID, Event: parley.EventProfile, Profile: parley.GroupProfile{Name: ptr("x")}},
		{GroupID: "g", Actor: "mia", Event: parley.EventDissolved},
	} {
		_, _, err := e.change(c)
		wantStoreCode(t, fmt.Sprintf("%s after dissolve", c.Event), err, parley.EConflict)
	}
	if g, _ := e.s.Group(e.ctx, e.app, "g"); g == nil || !g.Dissolved {
		t.Errorf("Group after dissolve: got %+v, want dissolved", g)
	}
	_, _, err = e.change(parley.GroupChange{GroupID: "nope", Actor: parley.SystemUserID, Event: parley.EventDissolved})
	wantStoreCode(t, "change of an unknown group", err, parley.ENotFound)
}

func ptr(s string) *string { return &s }

func (ss *storeSuite) testGroupSeqs(t *testing.T) {
	e := ss.env(t)
	conv := e.group("g", "olga", 100, "amy")
	e.send(conv, "amy", 2)
	j := e.mustChange(parley.GroupChange{GroupID: "g", Actor: "olga", Event: parley.EventJoined, Users: []string{"bob", "cid"}})
	e.send(conv, "bob", 1)
	r := e.mustChange(parley.GroupChange{GroupID: "g", Actor: "olga", Event: parley.EventRemoved, Users: []string{"cid"}})
	msgs := e.all(conv)
	for i, m := range msgs {
		if m.Seq != uint64(i+1) {
			t.Fatalf("message %d has seq %d, want %d", i, m.Seq, i+1)
		}
	}
	if len(msgs) != 6 || j.Seq != 4 || r.Seq != 6 {
		t.Fatalf("got %d messages, join at %d, removal at %d; want 6, 4, 6", len(msgs), j.Seq, r.Seq)
	}
	var body parley.GroupEventBody
	if err := json.Unmarshal(msgs[3].Body, &body); err != nil || msgs[3].Kind != parley.KindSystem ||
		body.Event != parley.EventJoined || body.By != "olga" || !cmp.Equal(body.Users, []string{"bob", "cid"}) || body.Count != 2 {
		t.Errorf("join message: got kind %s body %s, want a system message with event joined by olga of bob and cid", msgs[3].Kind, msgs[3].Body)
	}
	// A new member's cursor starts before their joining.
	if st := e.state("bob", conv); st.ReadSeq != 5 || st.LastSeq != 6 {
		t.Errorf("bob's state: got %+v, want ReadSeq 5 (his own message) and LastSeq 6", st)
	}
}

func (ss *storeSuite) testGroupFormerMember(t *testing.T) {
	e := ss.env(t)
	conv := e.group("g", "olga", 100, "amy", "cid")
	e.send(conv, "amy", 1)
	removed := e.mustChange(parley.GroupChange{GroupID: "g", Actor: "olga", Event: parley.EventRemoved, Users: []string{"cid"}})
	st := e.state("cid", conv)
	if !st.Left || st.LastSeq != removed.Seq {
		t.Errorf("cid's state after removal: got %+v, want Left and LastSeq %d", st, removed.Seq)
	}
	wantStoreCode(t, "IsMember of a removed member", e.s.IsMember(e.ctx, e.app, conv, "cid"), parley.EForbidden)
	_, _, err := e.s.MarkRead(e.ctx, e.app, conv, "cid", 1)
	wantStoreCode(t, "MarkRead by a removed member", err, parley.EForbidden)
	if ids, _ := e.s.Members(e.ctx, e.app, conv); !cmp.Equal(ids, []string{"amy", "olga"}) {
		t.Errorf("Members after removal: got %q, want amy olga", ids)
	}
	m, err := e.s.GroupMember(e.ctx, e.app, "g", "cid")
	if err != nil || m.Active() || m.LeftSeq != removed.Seq {
		t.Errorf("GroupMember(cid): got %+v, %v, want LeftSeq %d", m, err, removed.Seq)
	}
	e.send(conv, "amy", 3)
	if got := e.changes("cid", st.Ver, 100); len(got) != 0 {
		t.Errorf("cid's changes after later messages: got %+v, want none", got)
	}
	e.mustChange(parley.GroupChange{GroupID: "g", Actor: parley.SystemUserID, Event: parley.EventJoined, Users: []string{"cid"}})
	back := e.state("cid", conv)
	if back.Left || back.LastSeq != 7 || back.ReadSeq != 6 || back.Ver <= st.Ver {
		t.Errorf("cid's state after coming back: got %+v, want LastSeq 7, ReadSeq 6, a new Ver", back)
	}
}

func (ss *storeSuite) testGroupMessageVer(t *testing.T) {
	e := ss.env(t)
	conv := e.group("g", "olga", 100, "amy", "bob")
	before := map[string]uint64{}
	for _, u := range []string{"olga", "amy", "bob"} {
		before[u] = e.maxVer(u)
	}
	e.send(conv, "amy", 1)
	for u, v := range before {
		got := e.changes(u, v, 100)
		if len(got) != 1 || got[0].ConvID != conv || got[0].LastSeq != 2 || got[0].Ver <= v {
			t.Errorf("%s's changes after a message: got %+v, want %s at LastSeq 2 with Ver above %d", u, got, conv, v)
		}
	}
	if st := e.state("amy", conv); st.ReadSeq != 2 || st.Unread != 0 {
		t.Errorf("the sender's state: got %+v, want ReadSeq 2", st)
	}
}

func (ss *storeSuite) testGroupReadOwn(t *testing.T) {
	e := ss.env(t)
	conv := e.group("g", "olga", 100, "amy", "bob")
	e.send(conv, "amy", 2)
	amy, bob := e.maxVer("amy"), e.maxVer("bob")
	st, moved, err := e.s.MarkRead(e.ctx, e.app, conv, "bob", 3)
	if err != nil || !moved || st.ReadSeq != 3 || st.Ver <= bob {
		t.Fatalf("MarkRead(bob): got %+v, moved %v, %v; want ReadSeq 3 and a new Ver", st, moved, err)
	}
	if got := e.changes("amy", amy, 100); len(got) != 0 {
		t.Errorf("amy's changes after bob read the group: got %+v, want none (a read is the reader's own)", got)
	}
	if got := e.changes("bob", bob, 100); len(got) != 1 || got[0].ReadSeq != 3 {
		t.Errorf("bob's changes after he read: got %+v, want the group with ReadSeq 3", got)
	}
}

func (ss *storeSuite) testGroupChangesPaging(t *testing.T) {
	e := ss.env(t)
	g1 := e.group("g1", "alice", 100, "bob")
	g2 := e.group("g2", "bob", 100, "alice")
	d1, d2 := e.direct("alice", "carl"), e.direct("alice", "dora")
	order := []string{d1, g2, g1, d2, g1, d1, g2}
	for _, c := range order {
		e.send(c, "alice", 1)
	}
	all := e.changes("alice", 0, 100)
	if ids, want := stateConvIDs(all), []string{d2, g1, d1, g2}; !cmp.Equal(ids, want) {
		t.Fatalf("Changes: got %q, want %q (ascending Ver)", ids, want)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Ver <= all[i-1].Ver {
			t.Fatalf("Changes: Ver %d after %d, want ascending", all[i].Ver, all[i-1].Ver)
		}
	}
	for _, limit := range []int{1, 2, 3} {
		var paged []parley.ConvState
		since := uint64(0)
		for range 10 {
			page := e.changes("alice", since, limit)
			if len(page) == 0 {
				break
			}
			if len(page) > limit {
				t.Fatalf("limit %d: got a page of %d", limit, len(page))
			}
			paged = append(paged, page...)
			since = page[len(page)-1].Ver
		}
		if d := cmp.Diff(all, paged, storeCmpOpts()); d != "" {
			t.Errorf("paging by %d differs from one call (-one +paged):\n%s", limit, d)
		}
	}
}

func (ss *storeSuite) testGroupConversations(t *testing.T) {
	e := ss.env(t)
	g := e.group("g", "bob", 100, "alice")
	d := e.direct("alice", "carl")
	e.send(g, "bob", 1)
	e.send(d, "carl", 1)
	e.send(g, "bob", 1)
	got := e.conversations("alice", 0, 100)
	if ids := stateConvIDs(got); !cmp.Equal(ids, []string{g, d}) {
		t.Fatalf("Conversations: got %q, want %q", ids, []string{g, d})
	}
	if got[0].Last == nil || got[0].Last.Seq != 3 || got[0].Unread != 3 {
		t.Errorf("Conversations: group entry %+v, want Last at seq 3 and 3 unread", got[0])
	}
	if next := e.conversations("alice", got[0].Ver, 100); !cmp.Equal(stateConvIDs(next), []string{d}) {
		t.Errorf("Conversations before the group's Ver: got %q, want %q", stateConvIDs(next), d)
	}
}

func (ss *storeSuite) testGroupReadReceipts(t *testing.T) {
	e := ss.env(t)
	conv := e.group("g", "olga", 100, "amy", "bob", "cid")
	e.send(conv, "olga", 3) // seqs 2-4; olga has read 4
	for u, seq := range map[string]uint64{"amy": 3, "bob": 4} {
		if _, _, err := e.s.MarkRead(e.ctx, e.app, conv, u, seq); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		seq     uint64
		list    int
		read    int
		readers []string
	}{
		{3, 10, 3, []string{"amy", "bob", "olga"}},
		{4, 10, 2, []string{"bob", "olga"}},
		{4, 3, 2, nil}, // 4 members > list 3: counted only
		{1, 10, 3, []string{"amy", "bob", "olga"}},
	} {
		read, members, readers, err := e.s.ReadReceipts(e.ctx, e.app, conv, tc.seq, tc.list)
		if err != nil || read != tc.read || members != 4 || !cmp.Equal(readers, tc.readers, storeCmpOpts()) {
			t.Errorf("ReadReceipts(seq %d, list %d): got %d of %d %q, %v; want %d of 4 %q", tc.seq, tc.list, read, members, readers, err, tc.read, tc.readers)
		}
	}
	_, _, _, err := e.s.ReadReceipts(e.ctx, e.app, "g:nope", 1, 10)
	wantStoreCode(t, "ReadReceipts of an unknown conversation", err, parley.ENotFound)
}

func (ss *storeSuite) testGroupMaxConcurrent(t *testing.T) {
	e := ss.env(t)
	e.group("g", "olga", 10)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			c := parley.GroupChange{AppID: e.app, GroupID: "g", Actor: "olga", Event: parley.EventJoined, Now: 1,
				Users: []string{fmt.Sprintf("u%d-a", w), fmt.Sprintf("u%d-b", w)}}
			_, err := e.s.ChangeGroup(e.ctx, c, e.sysMsg())
			if code := parley.ErrorCode(err); code != "" && code != parley.EConflict {
				t.Errorf("concurrent add: got %v, want nil or conflict", err)
			}
		})
	}
	wg.Wait()
	g, err := e.s.Group(e.ctx, e.app, "g")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(e.members("g")); n != g.Members || n > 10 || n != 9 {
		t.Errorf("after concurrent adds: %d members listed, %d counted, want 9 (1 + 4 pairs) within the max 10", n, g.Members)
	}
}

func (ss *storeSuite) testGroupProfile(t *testing.T) {
	e := ss.env(t)
	e.group("g", "olga", 10, "amy")
	e.mustChange(parley.GroupChange{GroupID: "g", Actor: "olga", Event: parley.EventProfile, Now: 1_700_000_000_500,
		Profile: parley.GroupProfile{Notice: ptr("be nice"), Ext: json.RawMessage(`{"topic":"x"}`)}})
	g, err := e.s.Group(e.ctx, e.app, "g")
	if err != nil || g.Name != "G g" || g.Notice != "be nice" || string(g.Ext) != `{"topic":"x"}` || g.UpdatedAt != 1_700_000_000_500 {
		t.Errorf("Group after a profile update: got %+v, %v; want the name kept, notice and ext set", g, err)
	}
}
