package client_test

import (
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/wire"
)

// TestGroups drives a group through the Go client: the creator's and a
// member's devices get the group's messages and system messages in seq
// order exactly once (the recorder checks), a member who connects later
// catches up by sync, a muted member's send is refused, and receipts
// count the readers.
func TestGroups(t *testing.T) {
	e := newEnv(t, "gws")
	e.users("olga", "adam", "mia")
	olga, olgaRec := e.dial("olga", "d1")
	_, adamRec := e.dial("adam", "d1")
	ctx := ctxT(t)
	name := "Team"
	g, err := olga.CreateGroup(ctx, "team", parley.GroupProfile{Name: &name}, []string{"adam", "mia"})
	if err != nil || g.Group == nil || g.Group.Members != 3 || g.Msg == nil || g.Msg.Seq != 1 {
		t.Fatalf("CreateGroup: got %+v, %v", g, err)
	}
	conv := parley.GroupConvID("team")
	if _, err := olga.SendConv(ctx, conv, parley.KindText, text("hello team")); err != nil {
		t.Fatal(err)
	}
	adamRec.waitCount(t, conv, 2)
	olgaRec.waitCount(t, conv, 2)
	if _, err := olga.MuteGroupMember(ctx, "team", "mia", time.Minute); err != nil {
		t.Fatal(err)
	}
	mia, miaRec := e.dial("mia", "d1")
	miaRec.waitCount(t, conv, 3) // created, hello, muted: by sync
	if _, err := mia.SendConv(ctx, conv, parley.KindText, text("let me speak")); parley.ErrorCode(err) != parley.EForbidden {
		t.Errorf("a muted member's send: got %v, want forbidden", err)
	}
	if _, err := mia.Read(ctx, conv, 3); err != nil {
		t.Fatal(err)
	}
	rr, err := olga.ReadReceipts(ctx, conv, 2)
	if err != nil || rr.Read != 2 || rr.Members != 3 || len(rr.Readers) != 2 {
		t.Errorf("ReadReceipts: got %+v, %v, want olga and mia of 3", rr, err)
	}
	members, err := olga.GroupMembers(ctx, "team", "", 0)
	if err != nil || len(members.Members) != 3 || members.More {
		t.Errorf("GroupMembers: got %+v, %v", members, err)
	}
	res, err := olga.GroupChange(ctx, wire.TGroupRemove, "team", wire.GroupFields{User: "adam"})
	if err != nil || !res.Changed || res.Msg == nil {
		t.Fatalf("remove adam: got %+v, %v", res, err)
	}
	adamRec.waitCount(t, conv, 4) // he gets his removal, the last he may read
	if info, err := olga.GroupInfo(ctx, "team"); err != nil || info.Members != 2 || info.Name != "Team" {
		t.Errorf("GroupInfo: got %+v, %v", info, err)
	}
}
