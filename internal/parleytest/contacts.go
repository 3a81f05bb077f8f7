package parleytest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/parley-im/parley"
)

// RunContactTests runs the parley.ContactStore contract suite: one named
// subtest per promise of its doc comments. open is RunStoreTests' kind of
// function; every Store implementation runs it next to RunStoreTests.
func RunContactTests(t *testing.T, open func(t *testing.T) parley.Store) {
	ss := &storeSuite{open: open, prefix: storeRunPrefix(t)}
	t.Run("Profiles", func(t *testing.T) {
		t.Run("OnlyChangesGetVersions", ss.testProfilesChanged)
		t.Run("SinceCaredAboutOnly", ss.testProfilesSince)
	})
	t.Run("Contacts", func(t *testing.T) {
		t.Run("AddThenList", ss.testContactsAddList)
		t.Run("AliasAndReAdd", ss.testContactsAlias)
		t.Run("AddErrorsStoreNothing", ss.testContactsAddErrors)
		t.Run("RemoveKeepsRowForSync", ss.testContactsRemove)
		t.Run("SincePagesByVer", ss.testContactsPages)
		t.Run("AtMostMaxContacts", ss.testContactsMax)
	})
	t.Run("Interest", func(t *testing.T) {
		t.Run("Interested", ss.testInterested)
		t.Run("CaredAbout", ss.testCaredAbout)
	})
}

// contactEnv is a storeEnv whose store is a ContactStore.
type contactEnv struct {
	*storeEnv
	c parley.ContactStore
}

func (ss *storeSuite) contactEnv(t *testing.T, users ...string) *contactEnv {
	t.Helper()
	e := ss.env(t)
	c, ok := e.s.(parley.ContactStore)
	if !ok {
		t.Fatalf("store %T does not implement parley.ContactStore", e.s)
	}
	ce := &contactEnv{storeEnv: e, c: c}
	if len(users) > 0 {
		ce.upsert(users...)
	}
	return ce
}

// upsert creates users named for their ids and returns those that changed.
func (e *contactEnv) upsert(ids ...string) []parley.User {
	e.t.Helper()
	users := make([]parley.User, len(ids))
	for i, id := range ids {
		users[i] = parley.User{ID: id, Name: "name of " + id, Role: parley.RoleUser}
	}
	changed, err := e.c.UpsertProfiles(e.ctx, e.app, users)
	if err != nil {
		e.t.Fatalf("UpsertProfiles: got error %v, want nil", err)
	}
	return changed
}

func (e *contactEnv) add(user string, alias string, ids ...string) []parley.Contact {
	e.t.Helper()
	rows, err := e.c.AddContacts(e.ctx, e.app, user, ids, alias)
	if err != nil {
		e.t.Fatalf("AddContacts(%s, %v): got error %v, want nil", user, ids, err)
	}
	return rows
}

func (e *contactEnv) list(user string, since uint64, limit int) []parley.Contact {
	e.t.Helper()
	rows, err := e.c.Contacts(e.ctx, e.app, user, since, limit)
	if err != nil {
		e.t.Fatalf("Contacts(%s, %d): got error %v, want nil", user, since, err)
	}
	return rows
}

// ids returns the contact ids of rows, a "-" before removed ones.
func contactIDs(rows []parley.Contact) []string {
	out := []string{}
	for _, c := range rows {
		if c.Removed {
			out = append(out, "-"+c.UserID)
		} else {
			out = append(out, c.UserID)
		}
	}
	return out
}

func wantAscendingVers(t *testing.T, what string, rows []parley.Contact, above uint64) {
	t.Helper()
	for _, c := range rows {
		if c.Ver <= above {
			t.Errorf("%s: got Ver %d for %s, want it above %d and ascending", what, c.Ver, c.UserID, above)
		}
		above = c.Ver
	}
}

func (ss *storeSuite) testProfilesChanged(t *testing.T) {
	e := ss.contactEnv(t)
	first := e.upsert("alice", "bob")
	if got := userIDs(first); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Fatalf("UpsertProfiles of new users: got changed %v, want [alice bob]", got)
	}
	if first[0].Ver == 0 || first[1].Ver <= first[0].Ver {
		t.Errorf("new users: got Vers %d, %d, want ascending above 0", first[0].Ver, first[1].Ver)
	}
	if first[0].Name != "name of alice" || first[0].CreatedAt.IsZero() {
		t.Errorf("changed user: got %+v, want the stored profile", first[0])
	}
	before, err := e.s.User(e.ctx, e.app, "alice")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	if again := e.upsert("alice", "bob"); len(again) != 0 {
		t.Errorf("UpsertProfiles of unchanged profiles: got changed %v, want none", userIDs(again))
	}
	after, err := e.s.User(e.ctx, e.app, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("unchanged profile: got UpdatedAt %v, want %v kept", after.UpdatedAt, before.UpdatedAt)
	}
	for _, c := range []struct {
		what string
		u    parley.User
	}{
		{"name", parley.User{ID: "bob", Name: "Robert", Role: parley.RoleUser}},
		{"avatar", parley.User{ID: "bob", Name: "Robert", Role: parley.RoleUser, Avatar: "b.png"}},
		{"role", parley.User{ID: "bob", Name: "Robert", Role: parley.RoleAgent, Avatar: "b.png"}},
		{"metadata", parley.User{ID: "bob", Name: "Robert", Role: parley.RoleAgent, Avatar: "b.png", Metadata: json.RawMessage(`{"a":1}`)}},
	} {
		got, err := e.c.UpsertProfiles(e.ctx, e.app, []parley.User{{ID: "alice", Name: "name of alice", Role: parley.RoleUser}, c.u})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != "bob" {
			t.Fatalf("%s changed: got changed %v, want [bob]", c.what, userIDs(got))
		}
		if got[0].Ver <= first[1].Ver {
			t.Errorf("%s changed: got Ver %d, want above %d", c.what, got[0].Ver, first[1].Ver)
		}
		first[1] = got[0]
	}
	other, err := e.c.UpsertProfiles(e.ctx, ss.id("app"), []parley.User{{ID: "bob", Name: "Robert", Role: parley.RoleUser}})
	if err != nil || len(other) != 1 {
		t.Errorf("the same profile in another app: got %v, %v, want it changed (created)", userIDs(other), err)
	}
}

func userIDs(us []parley.User) []string {
	out := []string{}
	for _, u := range us {
		out = append(out, u.ID)
	}
	return out
}

func (ss *storeSuite) testProfilesSince(t *testing.T) {
	e := ss.contactEnv(t, "alice", "bob", "carol", "dave", "erin")
	e.add("alice", "", "bob")
	e.direct("alice", "carol")
	e.direct("dave", "erin") // not alice's
	for _, tc := range []struct {
		in   parley.Interest
		want []string
	}{
		{parley.InterestDefault, []string{"bob", "carol"}},
		{parley.InterestContacts, []string{"bob"}},
		{parley.InterestPeers, []string{"carol"}},
	} {
		got, err := e.c.ProfilesSince(e.ctx, e.app, "alice", 0, tc.in, 50)
		if err != nil {
			t.Fatal(err)
		}
		if ids := userIDs(got); !slices.Equal(ids, tc.want) {
			t.Errorf("ProfilesSince(alice, 0, interest %d): got %v, want %v", tc.in, ids, tc.want)
		}
	}
	all, _ := e.c.ProfilesSince(e.ctx, e.app, "alice", 0, parley.InterestDefault, 50)
	since := all[len(all)-1].Ver
	if _, err := e.c.UpsertProfiles(e.ctx, e.app, []parley.User{
		{ID: "erin", Name: "Erin", Role: parley.RoleUser}, {ID: "carol", Name: "Caroline", Role: parley.RoleUser},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := e.c.ProfilesSince(e.ctx, e.app, "alice", since, parley.InterestDefault, 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "carol" || got[0].Name != "Caroline" || got[0].Ver <= since {
		t.Errorf("ProfilesSince after carol and erin changed: got %+v, want carol's new profile only", got)
	}
	if got, _ := e.c.ProfilesSince(e.ctx, e.app, "alice", 0, parley.InterestDefault, 1); len(got) != 1 {
		t.Errorf("ProfilesSince limit 1: got %d profiles, want 1", len(got))
	}
}

func (ss *storeSuite) testContactsAddList(t *testing.T) {
	e := ss.contactEnv(t, "alice", "bob", "carol")
	rows := e.add("alice", "", "carol", "bob")
	if got := contactIDs(rows); !slices.Equal(got, []string{"carol", "bob"}) {
		t.Fatalf("AddContacts: got %v, want the rows in input order", got)
	}
	wantAscendingVers(t, "AddContacts", rows, 0)
	for _, c := range rows {
		if c.Profile == nil || c.Profile.ID != c.UserID || c.Profile.Name != "name of "+c.UserID || c.CreatedAt == 0 {
			t.Errorf("AddContacts row %s: got %+v, want its profile and creation time", c.UserID, c)
		}
	}
	list := e.list("alice", 0, 50)
	if d := cmp.Diff(rows, list, storeCmpOpts()); d != "" {
		t.Errorf("Contacts(alice): got a different list than added (-added +listed):\n%s", d)
	}
	if got := e.list("bob", 0, 50); len(got) != 0 {
		t.Errorf("Contacts(bob): got %v, want none (contact lists are one-way)", contactIDs(got))
	}
}

func (ss *storeSuite) testContactsAlias(t *testing.T) {
	e := ss.contactEnv(t, "alice", "bob")
	first := e.add("alice", "", "bob")[0]
	second := e.add("alice", "Bobby", "bob")[0]
	if second.Alias != "Bobby" || second.Ver <= first.Ver || second.CreatedAt != first.CreatedAt {
		t.Errorf("setting an alias: got %+v, want alias Bobby, a new Ver, CreatedAt kept from %+v", second, first)
	}
	if list := e.list("alice", 0, 50); len(list) != 1 || list[0].Alias != "Bobby" {
		t.Errorf("Contacts after an alias: got %+v, want one row with alias Bobby", list)
	}
}

func (ss *storeSuite) testContactsAddErrors(t *testing.T) {
	e := ss.contactEnv(t, "alice", "bob")
	_, err := e.c.AddContacts(e.ctx, e.app, "alice", []string{"bob", "alice"}, "")
	wantStoreCode(t, "AddContacts of oneself", err, parley.EInvalid)
	_, err = e.c.AddContacts(e.ctx, e.app, "alice", []string{"bob", "ghost"}, "")
	wantStoreCode(t, "AddContacts of an unknown user", err, parley.ENotFound)
	other := ss.id("app")
	if _, err := e.c.UpsertProfiles(e.ctx, other, []parley.User{{ID: "zed", Name: "Z", Role: parley.RoleUser}}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.AddContacts(e.ctx, e.app, "alice", []string{"zed"}, "")
	wantStoreCode(t, "AddContacts of another app's user", err, parley.ENotFound)
	_, err = e.c.AddContacts(e.ctx, e.app, "ghost", []string{"bob"}, "")
	wantStoreCode(t, "AddContacts for an unknown user", err, parley.ENotFound)
	if got := e.list("alice", 0, 50); len(got) != 0 {
		t.Errorf("Contacts after failed adds: got %v, want none stored", contactIDs(got))
	}
}

func (ss *storeSuite) testContactsRemove(t *testing.T) {
	e := ss.contactEnv(t, "alice", "bob", "carol")
	added := e.add("alice", "", "bob", "carol")
	ver := added[1].Ver
	removed, err := e.c.RemoveContacts(e.ctx, e.app, "alice", []string{"bob", "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	if got := contactIDs(removed); !slices.Equal(got, []string{"-bob"}) {
		t.Fatalf("RemoveContacts(bob, nobody): got %v, want [-bob]", got)
	}
	wantAscendingVers(t, "RemoveContacts", removed, ver)
	if got := contactIDs(e.list("alice", 0, 50)); !slices.Equal(got, []string{"carol"}) {
		t.Errorf("Contacts since 0 after a removal: got %v, want [carol]", got)
	}
	sync := e.list("alice", ver, 50)
	if got := contactIDs(sync); !slices.Equal(got, []string{"-bob"}) {
		t.Errorf("Contacts since %d: got %v, want the removal [-bob]", ver, got)
	}
	if len(sync) == 1 && sync[0].Profile != nil {
		t.Errorf("removed row: got profile %+v, want none", sync[0].Profile)
	}
	again, err := e.c.RemoveContacts(e.ctx, e.app, "alice", []string{"bob"})
	if err != nil || len(again) != 0 {
		t.Errorf("removing bob again: got %v, %v, want nothing", contactIDs(again), err)
	}
	readded := e.add("alice", "", "bob")
	if readded[0].Ver <= sync[0].Ver {
		t.Errorf("re-adding bob: got Ver %d, want above %d", readded[0].Ver, sync[0].Ver)
	}
	if got := contactIDs(e.list("alice", sync[0].Ver, 50)); !slices.Equal(got, []string{"bob"}) {
		t.Errorf("Contacts after re-adding: got %v, want [bob]", got)
	}
}

func (ss *storeSuite) testContactsPages(t *testing.T) {
	e := ss.contactEnv(t, "alice", "u1", "u2", "u3", "u4", "u5")
	e.add("alice", "", "u1", "u2", "u3", "u4", "u5")
	var got []string
	since := uint64(0)
	for range 10 {
		page := e.list("alice", since, 2)
		if len(page) == 0 {
			break
		}
		if len(page) > 2 {
			t.Fatalf("Contacts limit 2: got %d rows", len(page))
		}
		wantAscendingVers(t, "page", page, since)
		got = append(got, contactIDs(page)...)
		since = page[len(page)-1].Ver
	}
	if want := []string{"u1", "u2", "u3", "u4", "u5"}; !slices.Equal(got, want) {
		t.Errorf("paging by Ver: got %v, want %v", got, want)
	}
}

func (ss *storeSuite) testContactsMax(t *testing.T) {
	e := ss.contactEnv(t, "alice")
	ids := make([]string, parley.MaxContacts+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("c%05d", i)
	}
	e.upsert(ids...)
	e.add("alice", "", ids[:parley.MaxContacts]...)
	_, err := e.c.AddContacts(e.ctx, e.app, "alice", ids[parley.MaxContacts:], "")
	wantStoreCode(t, "AddContacts past MaxContacts", err, parley.ETooLarge)
	// Re-adding a contact does not grow the list; after a removal there
	// is room again.
	e.add("alice", "again", ids[0])
	if _, err := e.c.RemoveContacts(e.ctx, e.app, "alice", ids[:1]); err != nil {
		t.Fatal(err)
	}
	e.add("alice", "", ids[parley.MaxContacts])
}

func (ss *storeSuite) testInterested(t *testing.T) {
	e := ss.contactEnv(t, "alice", "bob", "carol", "dave", "erin", "frank")
	e.add("alice", "", "bob") // alice cares about bob
	e.add("dave", "", "bob")
	e.add("bob", "", "erin") // one-way: erin does not care about bob
	e.direct("bob", "carol")
	e.direct("bob", "dave") // dave both ways: once
	e.direct(parley.SystemUserID, "bob")
	e.add("frank", "", "bob")
	if _, err := e.c.RemoveContacts(e.ctx, e.app, "frank", []string{"bob"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   parley.Interest
		want []string
	}{
		{parley.InterestDefault, []string{"alice", "carol", "dave"}},
		{parley.InterestContacts, []string{"alice", "dave"}},
		{parley.InterestPeers, []string{"carol", "dave"}},
	} {
		got, err := e.c.Interested(e.ctx, e.app, "bob", tc.in, 100)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("Interested(bob, interest %d): got %v, want %v", tc.in, got, tc.want)
		}
	}
	if got, _ := e.c.Interested(e.ctx, e.app, "bob", parley.InterestDefault, 2); len(got) != 2 {
		t.Errorf("Interested limit 2: got %v, want 2 users", got)
	}
	if got, _ := e.c.Interested(e.ctx, ss.id("app"), "bob", parley.InterestDefault, 100); len(got) != 0 {
		t.Errorf("Interested in another app: got %v, want none", got)
	}
}

func (ss *storeSuite) testCaredAbout(t *testing.T) {
	e := ss.contactEnv(t, "alice", "bob", "carol", "dave")
	e.add("alice", "", "bob")
	e.direct("alice", "carol")
	e.add("dave", "", "alice") // one-way
	users := []string{"dave", "carol", "alice", "bob", "ghost", "bob"}
	for _, tc := range []struct {
		in   parley.Interest
		want []string
	}{
		{parley.InterestDefault, []string{"carol", "bob"}},
		{parley.InterestContacts, []string{"bob"}},
		{parley.InterestPeers, []string{"carol"}},
	} {
		got, err := e.c.CaredAbout(e.ctx, e.app, "alice", users, tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("CaredAbout(alice, %v, interest %d): got %v, want %v", users, tc.in, got, tc.want)
		}
	}
}
