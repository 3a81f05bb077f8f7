package parleytest

import (
	"slices"
	"testing"

	"github.com/parley-im/parley"
)

// setConv applies settings and fails the test on error.
func (e *storeEnv) setConv(conv, user string, c parley.ConvSettings) (parley.ConvState, bool) {
	e.t.Helper()
	st, changed, err := e.s.SetConvSettings(e.ctx, e.app, conv, user, c)
	if err != nil {
		e.t.Fatalf("SetConvSettings(%s, %s, %+v): got error %v, want nil", conv, user, c, err)
	}
	return st, changed
}

func yes() *bool { v := true; return &v }
func no() *bool  { v := false; return &v }

// testConvSettingsOwn: settings are the member's own; a change gives only
// the member's row a new version, and setting what is already set
// changes nothing.
func (ss *storeSuite) testConvSettingsOwn(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	e.send(c, "bob", 2)
	aliceVer, bobVer := e.maxVer("alice"), e.maxVer("bob")
	st, changed := e.setConv(c, "alice", parley.ConvSettings{Pin: yes(), Mute: yes()})
	if !changed || !st.Pinned || !st.Muted || st.Hidden || st.ConvID != c || st.LastSeq != 2 || st.Unread != 2 {
		t.Errorf("after pin and mute: got changed %v, %+v; want changed, pinned, muted, LastSeq 2, Unread 2", changed, st)
	}
	if st.Ver <= aliceVer {
		t.Errorf("after pin and mute: Ver %d, want above %d", st.Ver, aliceVer)
	}
	if got := e.state("alice", c); got != st {
		t.Errorf("alice's state on sync: got %+v, want %+v", got, st)
	}
	if got := e.changes("bob", bobVer, 10); len(got) != 0 {
		t.Errorf("bob's changes after alice's settings: got %+v, want none", got)
	}
	if b := e.state("bob", c); b.Pinned || b.Muted || b.Hidden {
		t.Errorf("bob's state: got %+v, want none of alice's settings", b)
	}
	again, changed := e.setConv(c, "alice", parley.ConvSettings{Pin: yes()})
	if changed || again.Ver != st.Ver || !again.Pinned || !again.Muted {
		t.Errorf("pinning again: got changed %v, %+v; want unchanged %+v", changed, again, st)
	}
	st, changed = e.setConv(c, "alice", parley.ConvSettings{Pin: no()})
	if !changed || st.Pinned || !st.Muted {
		t.Errorf("after unpin: got changed %v, %+v; want changed, muted, not pinned", changed, st)
	}
}

// testConvSettingsHide: a hidden conversation leaves the list until a new
// message arrives or it is unhidden; sync still carries it.
func (ss *storeSuite) testConvSettingsHide(t *testing.T) {
	e := ss.env(t)
	c1, c2, c3 := e.threeConvs()
	before := e.maxVer("alice")
	st, changed := e.setConv(c2, "alice", parley.ConvSettings{Hide: yes()})
	if !changed || !st.Hidden {
		t.Fatalf("after hide: got changed %v, %+v; want changed and hidden", changed, st)
	}
	if got := stateConvIDs(e.conversations("alice", 0, 10)); !slices.Equal(got, []string{c1, c3}) {
		t.Errorf("conversation list with %s hidden: got %v, want [%s %s]", c2, got, c1, c3)
	}
	if got := e.changes("alice", before, 10); len(got) != 1 || got[0].ConvID != c2 || !got[0].Hidden {
		t.Errorf("changes after hiding %s: got %+v, want it, hidden", c2, got)
	}
	e.send(c2, "carol", 1)
	if st := e.state("alice", c2); st.Hidden {
		t.Errorf("after a new message: got %+v, want not hidden", st)
	}
	if got := stateConvIDs(e.conversations("alice", 0, 10)); !slices.Equal(got, []string{c2, c1, c3}) {
		t.Errorf("conversation list after a new message in %s: got %v, want [%s %s %s]", c2, got, c2, c1, c3)
	}
	e.setConv(c1, "alice", parley.ConvSettings{Hide: yes()})
	st, changed = e.setConv(c1, "alice", parley.ConvSettings{Hide: no()})
	if !changed || st.Hidden {
		t.Errorf("after unhide: got changed %v, %+v; want changed, not hidden", changed, st)
	}
	if got := stateConvIDs(e.conversations("alice", 0, 10)); len(got) != 3 || got[0] != c1 {
		t.Errorf("conversation list after unhiding %s: got %v, want it first of 3", c1, got)
	}
}

// testConvSettingsGroup: in a group, settings move only the member's
// version, and MutedBy names the current members who muted.
func (ss *storeSuite) testConvSettingsGroup(t *testing.T) {
	e := ss.env(t)
	conv := e.group("g", "olga", 100, "amy", "bob", "cid")
	if got, err := e.s.MutedBy(e.ctx, e.app, conv); err != nil || len(got) != 0 {
		t.Errorf("MutedBy with nobody muted: got %v, %v; want none", got, err)
	}
	amyVer := e.maxVer("amy")
	for _, u := range []string{"cid", "amy", "bob"} {
		e.setConv(conv, u, parley.ConvSettings{Mute: yes()})
	}
	if got := e.changes("amy", amyVer, 10); len(got) != 1 || !got[0].Muted {
		t.Errorf("amy's changes after muting: got %+v, want the group, muted", got)
	}
	if st := e.state("olga", conv); st.Muted {
		t.Errorf("olga's state: got %+v, want not muted", st)
	}
	e.setConv(conv, "bob", parley.ConvSettings{Mute: no()})
	e.mustChange(parley.GroupChange{GroupID: "g", Actor: "cid", Event: parley.EventLeft})
	got, err := e.s.MutedBy(e.ctx, e.app, conv)
	if err != nil || !slices.Equal(got, []string{"amy"}) {
		t.Errorf("MutedBy after bob unmuted and cid left: got %v, %v; want [amy]", got, err)
	}
	if got, err := e.s.MutedBy(e.ctx, e.app, parley.GroupConvID("nope")); err != nil || len(got) != 0 {
		t.Errorf("MutedBy of an unknown conversation: got %v, %v; want none", got, err)
	}
	if got, err := e.s.MutedBy(e.ctx, ss.id("app"), conv); err != nil || len(got) != 0 {
		t.Errorf("MutedBy in another app: got %v, %v; want none", got, err)
	}
	_, _, err = e.s.SetConvSettings(e.ctx, e.app, conv, "cid", parley.ConvSettings{Pin: yes()})
	wantStoreCode(t, "SetConvSettings by a former member", err, parley.EForbidden)
}

func (ss *storeSuite) testConvSettingsErrors(t *testing.T) {
	e := ss.env(t)
	c := e.direct("alice", "bob")
	_, _, err := e.s.SetConvSettings(e.ctx, e.app, c, "zed", parley.ConvSettings{Pin: yes()})
	wantStoreCode(t, "SetConvSettings by a stranger", err, parley.EForbidden)
	_, _, err = e.s.SetConvSettings(e.ctx, e.app, parley.DirectConvID("alice", "cat"), "alice", parley.ConvSettings{Pin: yes()})
	wantStoreCode(t, "SetConvSettings of a missing conversation", err, parley.ENotFound)
	_, _, err = e.s.SetConvSettings(e.ctx, ss.id("app"), c, "alice", parley.ConvSettings{Pin: yes()})
	wantStoreCode(t, "SetConvSettings in another app", err, parley.ENotFound)
}
