package chat_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/chat"
	"github.com/parley-im/parley/internal/sqlite"
)

// countingStore counts the member lists read from the store.
type countingStore struct {
	*sqlite.DB
	memberPages atomic.Int64
	members     atomic.Int64
}

func (c *countingStore) GroupMembers(ctx context.Context, appID, groupID, after string, limit int) ([]parley.GroupMember, error) {
	c.memberPages.Add(1)
	return c.DB.GroupMembers(ctx, appID, groupID, after, limit)
}

func (c *countingStore) Members(ctx context.Context, appID, convID string) ([]string, error) {
	c.members.Add(1)
	return c.DB.Members(ctx, appID, convID)
}

func users(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return out
}

// TestGroupFanOutIsOneDeliveryFromTheCache: every message to a group is
// one Delivery naming every member, and the members are read from the
// store once, not per message.
func TestGroupFanOutIsOneDeliveryFromTheCache(t *testing.T) {
	ctx := context.Background()
	members := users("m", 2500)
	st := &countingStore{DB: openStore(t, members...)}
	p := &pushes{}
	s := chat.New(st, p, chat.Config{})
	defer s.Close()
	if _, err := s.CreateGroup(ctx, chat.CreateGroupRequest{AppID: "app", Actor: parley.SystemUserID, ID: "big", Owner: members[0], Members: members[1:1000]}); err != nil {
		t.Fatal(err)
	}
	for i := 1000; i < len(members); i += 1000 {
		if _, err := s.ChangeGroup(ctx, parley.GroupChange{AppID: "app", GroupID: "big", Actor: parley.SystemUserID, Event: parley.EventJoined, Users: members[i:min(i+1000, len(members))]}, ""); err != nil {
			t.Fatal(err)
		}
	}
	before := p.count()
	pagesBefore := st.memberPages.Load()
	for i := range 20 {
		r := s.Send(ctx, chat.SendRequest{AppID: "app", Sender: members[i], ConvID: "g:big", Body: text("hi")})
		if r.Err != nil {
			t.Fatalf("send %d: %v", i, r.Err)
		}
	}
	ds := p.waitTexts(before, 20)
	if len(ds) != 20 {
		t.Fatalf("got %d deliveries for 20 messages, want 20", len(ds))
	}
	for _, d := range ds {
		if !slices.Equal(d.Users, members) {
			t.Fatalf("a delivery names %d users, want all %d members in order", len(d.Users), len(members))
		}
	}
	// 2,500 members load in 3 pages, once; Members is never read.
	if got := st.memberPages.Load() - pagesBefore; got > 3 {
		t.Errorf("20 messages read %d member pages from the store, want at most 3 (one load)", got)
	}
	if got := st.members.Load(); got != 0 {
		t.Errorf("Members read %d times, want 0", got)
	}
}

// TestGroupSendChecksAtCommit: membership, mutes, mute-all and dissolve
// are checked against the committer's view, which every change updates.
func TestGroupSendChecksAtCommit(t *testing.T) {
	ctx := context.Background()
	s, p := setup(t, "olga", "adam", "mia", "out")
	if _, err := s.CreateGroup(ctx, chat.CreateGroupRequest{AppID: "app", Actor: "olga", ID: "g", Members: []string{"adam", "mia"}}); err != nil {
		t.Fatal(err)
	}
	change := func(c parley.GroupChange) {
		t.Helper()
		c.AppID, c.GroupID = "app", "g"
		if r, err := s.ChangeGroup(ctx, c, ""); err != nil || !r.Changed {
			t.Fatalf("%s: got %+v, %v", c.Event, r, err)
		}
	}
	send := func(who string) string {
		return parley.ErrorCode(s.Send(ctx, chat.SendRequest{AppID: "app", Sender: who, ConvID: "g:g", Body: text("x")}).Err)
	}
	for _, step := range []struct {
		name string
		do   func()
		who  string
		want string
	}{
		{"member", nil, "mia", ""},
		{"stranger", nil, "out", parley.EForbidden},
		{"system", nil, parley.SystemUserID, ""},
		{"muted", func() {
			change(parley.GroupChange{Actor: "olga", Event: parley.EventMuted, Users: []string{"mia"}, MutedUntil: time.Now().UnixMilli() + 60_000})
		}, "mia", parley.EForbidden},
		{"unmuted", func() { change(parley.GroupChange{Actor: "olga", Event: parley.EventMuted, Users: []string{"mia"}}) }, "mia", ""},
		{"all muted", func() { change(parley.GroupChange{Actor: "olga", Event: parley.EventMuteAll, MuteAll: true}) }, "mia", parley.EForbidden},
		{"owner while all muted", nil, "olga", ""},
		{"removed", func() {
			change(parley.GroupChange{Actor: "olga", Event: parley.EventMuteAll})
			change(parley.GroupChange{Actor: "olga", Event: parley.EventRemoved, Users: []string{"mia"}})
		}, "mia", parley.EForbidden},
		{"dissolved", func() { change(parley.GroupChange{Actor: "olga", Event: parley.EventDissolved}) }, "olga", parley.EConflict},
	} {
		if step.do != nil {
			step.do()
		}
		if got := send(step.who); got != step.want {
			t.Errorf("%s: got %q, want %q", step.name, got, step.want)
		}
	}
	// The removal was pushed to mia too.
	p.mu.Lock()
	defer p.mu.Unlock()
	found := false
	for _, d := range p.ds {
		if slices.Contains(d.Users, "mia") && strings.Contains(string(d.Payload), `"event":"removed"`) {
			found = true
		}
	}
	if !found {
		t.Error("the removal was not pushed to the removed member")
	}
}

// TestGroupReadPushesToTheReaderOnly: a read cursor moving in a group is
// pushed to the reader's devices, not to every member.
func TestGroupReadPushesToTheReaderOnly(t *testing.T) {
	ctx := context.Background()
	s, p := setup(t, "olga", "adam", "mia")
	if _, err := s.CreateGroup(ctx, chat.CreateGroupRequest{AppID: "app", Actor: "olga", ID: "g", Members: []string{"adam", "mia"}}); err != nil {
		t.Fatal(err)
	}
	before := p.count()
	if _, err := s.Read(ctx, "app", "adam", "g:g", 1, "conn"); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var got []parley.Delivery
	for _, d := range p.ds[before:] {
		if d.Kind == chat.DeliverRead { // the create's push may come after its answer
			got = append(got, d)
		}
	}
	if len(got) != 1 || !slices.Equal(got[0].Users, []string{"adam"}) {
		t.Errorf("read push: got %+v, want one read delivery to adam only", got)
	}
}

// BenchmarkGroupSend measures sends to a group of 5,000 members through
// the committer: the commit and one Delivery naming every member (the
// recording pusher stands in for the dispatcher).
func BenchmarkGroupSend(b *testing.B) {
	ctx := context.Background()
	members := users("m", 5000)
	st := openStore(b, members...)
	s := chat.New(st, &pushes{}, chat.Config{})
	defer s.Close()
	if _, err := s.CreateGroup(ctx, chat.CreateGroupRequest{AppID: "app", Actor: parley.SystemUserID, ID: "big", Owner: members[0], Members: members[1:1000]}); err != nil {
		b.Fatal(err)
	}
	for i := 1000; i < len(members); i += 1000 {
		if _, err := s.ChangeGroup(ctx, parley.GroupChange{AppID: "app", GroupID: "big", Actor: parley.SystemUserID, Event: parley.EventJoined, Users: members[i : i+1000]}, ""); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if r := s.Send(ctx, chat.SendRequest{AppID: "app", Sender: members[i%len(members)], ConvID: "g:big", Body: text("hi")}); r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}

// TestGroupCacheFollowsChanges: after joins, leaves, a removal, a return,
// roles and a transfer, the committer's view (kept up to date without
// reloading) decides sends and fan-out exactly as the store would.
func TestGroupCacheFollowsChanges(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "o", "a", "b", "c", "d", "e")
	p := &pushes{}
	s := chat.New(st, p, chat.Config{})
	defer s.Close()
	if _, err := s.CreateGroup(ctx, chat.CreateGroupRequest{AppID: "app", Actor: "o", ID: "g", Members: []string{"a", "b", "c"}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []parley.GroupChange{
		{Actor: "o", Event: parley.EventJoined, Users: []string{"d", "e"}},
		{Actor: "o", Event: parley.EventRemoved, Users: []string{"b"}},
		{Actor: "c", Event: parley.EventLeft},
		{Actor: "o", Event: parley.EventJoined, Users: []string{"b"}},
		{Actor: "o", Event: parley.EventRole, Users: []string{"d"}, Role: parley.GroupRoleAdmin},
		{Actor: "o", Event: parley.EventTransferred, Users: []string{"a"}},
		{Actor: "a", Event: parley.EventMuteAll, MuteAll: true},
	} {
		c.AppID, c.GroupID = "app", "g"
		if r, err := s.ChangeGroup(ctx, c, ""); err != nil || !r.Changed {
			t.Fatalf("%s by %s: got %+v, %v", c.Event, c.Actor, r, err)
		}
	}
	for who, want := range map[string]string{"e": parley.EForbidden, "b": parley.EForbidden, "c": parley.EForbidden, "d": "", "o": "", "a": ""} {
		r := s.Send(ctx, chat.SendRequest{AppID: "app", Sender: who, ConvID: "g:g", ClientMsgID: "m-" + who, Body: text("x")})
		if got := parley.ErrorCode(r.Err); got != want {
			t.Errorf("send by %s: got %q, want %q", who, got, want)
		}
	}
	members, err := st.Members(ctx, "app", "g:g")
	if err != nil {
		t.Fatal(err)
	}
	texts := p.waitTexts(0, 3)
	if len(texts) != 3 {
		t.Fatalf("got %d message pushes, want 3", len(texts))
	}
	for _, d := range texts {
		if !slices.Equal(d.Users, members) {
			t.Errorf("a message went to %q, want the store's members %q", d.Users, members)
		}
	}
}

// waitTexts returns the deliveries of text messages recorded from index
// from on, waiting up to 5 s for n of them: the committer pushes a batch
// after it has answered its senders (the last add's push may even land
// after from was taken).
func (p *pushes) waitTexts(from, n int) []parley.Delivery {
	var ds []parley.Delivery
	for deadline := time.Now().Add(5 * time.Second); len(ds) < n && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		p.mu.Lock()
		ds = ds[:0]
		for _, d := range p.ds[from:] {
			if strings.Contains(string(d.Payload), `"kind":"text"`) {
				ds = append(ds, d)
			}
		}
		p.mu.Unlock()
	}
	return ds
}
