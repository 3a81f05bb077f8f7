package parley_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/parley-im/parley"
)

func TestGroupOf(t *testing.T) {
	for in, want := range map[string]string{"g:team": "team", "g:": "", "g:_x": "", "d:a:b": "", "team": "", "g:a b": ""} {
		got, ok := parley.GroupOf(in)
		if got != want || ok != (want != "") {
			t.Errorf("GroupOf(%q): got %q, %v, want %q", in, got, ok, want)
		}
	}
	if got := parley.GroupConvID("team"); got != "g:team" {
		t.Errorf("GroupConvID: got %q", got)
	}
}

func TestGroupChangeAuthorizeBySystem(t *testing.T) {
	g := &parley.Group{ID: "g", Owner: "olga", MaxMembers: 3, Members: 2}
	for _, tc := range []struct {
		name  string
		c     parley.GroupChange
		roles []parley.GroupRole
		code  string
	}{
		{"removes an admin", parley.GroupChange{Event: parley.EventRemoved, Users: []string{"a"}}, []parley.GroupRole{parley.GroupRoleAdmin}, ""},
		{"removes the owner", parley.GroupChange{Event: parley.EventRemoved, Users: []string{"olga"}}, []parley.GroupRole{parley.GroupRoleOwner}, parley.EConflict},
		{"sets a role", parley.GroupChange{Event: parley.EventRole, Users: []string{"a"}, Role: parley.GroupRoleAdmin}, []parley.GroupRole{parley.GroupRoleMember}, ""},
		{"leaves", parley.GroupChange{Event: parley.EventLeft}, nil, parley.EInvalid},
		{"fills the group", parley.GroupChange{Event: parley.EventJoined, Users: []string{"x"}}, []parley.GroupRole{""}, ""},
		{"overfills it", parley.GroupChange{Event: parley.EventJoined, Users: []string{"x", "y"}}, []parley.GroupRole{"", ""}, parley.EConflict},
		{"roles do not match users", parley.GroupChange{Event: parley.EventJoined, Users: []string{"x", "y"}}, []parley.GroupRole{""}, parley.EInternal},
	} {
		tc.c.GroupID, tc.c.Actor = "g", parley.SystemUserID
		_, _, err := tc.c.Authorize(g, "", tc.roles)
		if got := parley.ErrorCode(err); got != tc.code {
			t.Errorf("%s: got %v, want code %q", tc.name, err, tc.code)
		}
	}
}

func TestGroupEventBodyListsAtMost100(t *testing.T) {
	users := make([]string, 250)
	for i := range users {
		users[i] = fmt.Sprintf("u%d", i)
	}
	c := parley.GroupChange{GroupID: "g", Actor: "olga", Event: parley.EventJoined, Users: users}
	var b parley.GroupEventBody
	if err := json.Unmarshal(c.EventBody(users), &b); err != nil {
		t.Fatal(err)
	}
	if len(b.Users) != parley.MaxEventUsers || b.Count != 250 || b.Event != parley.EventJoined || b.By != "olga" {
		t.Errorf("body: got %d users, count %d, event %q, by %q; want 100, 250, joined, olga", len(b.Users), b.Count, b.Event, b.By)
	}
}

func TestSendAllowed(t *testing.T) {
	now := int64(1000)
	member := &parley.GroupMember{User: "m", Role: parley.GroupRoleMember}
	admin := &parley.GroupMember{User: "a", Role: parley.GroupRoleAdmin}
	muted := &parley.GroupMember{User: "x", Role: parley.GroupRoleMember, MutedUntil: now + 1}
	expired := &parley.GroupMember{User: "y", Role: parley.GroupRoleMember, MutedUntil: now}
	former := &parley.GroupMember{User: "z", LeftSeq: 3}
	open, all, gone := &parley.Group{ID: "g"}, &parley.Group{ID: "g", MuteAll: true}, &parley.Group{ID: "g", Dissolved: true}
	for _, tc := range []struct {
		name   string
		g      *parley.Group
		sender string
		m      *parley.GroupMember
		code   string
	}{
		{"member", open, "m", member, ""},
		{"stranger", open, "s", nil, parley.EForbidden},
		{"former member", open, "z", former, parley.EForbidden},
		{"muted", open, "x", muted, parley.EForbidden},
		{"mute over", open, "y", expired, ""},
		{"member, all muted", all, "m", member, parley.EForbidden},
		{"admin, all muted", all, "a", admin, ""},
		{"system, all muted", all, parley.SystemUserID, nil, ""},
		{"dissolved", gone, "a", admin, parley.EConflict},
		{"system, dissolved", gone, parley.SystemUserID, nil, parley.EConflict},
	} {
		if got := parley.ErrorCode(parley.SendAllowed(tc.g, tc.sender, tc.m, now)); got != tc.code {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.code)
		}
	}
}
