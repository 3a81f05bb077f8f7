package parleytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/parley-im/parley"
)

// RunStoreTests runs the parley.Store contract suite: one named subtest per
// promise that the doc comments in the parley package's store.go make.
//
// open returns a store ready for use; it is called once per subtest and
// closing the store is its business (t.Cleanup). The store need not be
// empty: every subtest works in an app of its own, with ids that include a
// random prefix, so a shared database works as well as a fresh file.
func RunStoreTests(t *testing.T, open func(t *testing.T) parley.Store) {
	ss := &storeSuite{open: open, prefix: storeRunPrefix(t)}
	t.Run("App", func(t *testing.T) {
		t.Run("CreateThenGet", ss.testAppCreateThenGet)
		t.Run("DuplicateIsConflict", ss.testAppDuplicate)
		t.Run("MissingIsNotFound", ss.testAppMissing)
	})
	t.Run("AppSettings", func(t *testing.T) { // store_appsettings.go
		t.Run("UpdateThenGet", ss.testAppSettingsUpdateThenGet)
		t.Run("ConcurrentFieldsAllHold", ss.testAppSettingsConcurrent)
		t.Run("MissingAppIsNotFound", ss.testAppSettingsMissingApp)
	})
	t.Run("User", func(t *testing.T) {
		t.Run("UpsertThenGet", ss.testUserUpsertThenGet)
		t.Run("ReplaceKeepsCreatedAt", ss.testUserReplaceKeepsCreatedAt)
		t.Run("MissingIsNotFound", ss.testUserMissing)
		t.Run("UserIDsPages", ss.testUserIDsPages)
	})
	t.Run("Revocation", func(t *testing.T) {
		t.Run("NoneIsZero", ss.testRevocationNone)
		t.Run("UserWideCoversEveryDevice", ss.testRevocationUserWide)
		t.Run("LaterWins", ss.testRevocationLaterWins)
	})
	t.Run("Conversation", func(t *testing.T) {
		t.Run("EnsureCreatesMembersSorted", ss.testEnsureCreates)
		t.Run("EnsureIsIdempotent", ss.testEnsureIdempotent)
		t.Run("IsMember", ss.testIsMember)
		t.Run("MembersMissingIsNotFound", ss.testMembersMissing)
	})
	t.Run("Append", func(t *testing.T) {
		t.Run("EmptyBatch", ss.testAppendEmpty)
		t.Run("SeqsGaplessInInputOrder", ss.testAppendSeqs)
		t.Run("StoresEveryField", ss.testAppendStoresFields)
		t.Run("DupWithinBatch", ss.testAppendDupWithinBatch)
		t.Run("DupAcrossBatches", ss.testAppendDupAcrossBatches)
		t.Run("DupNeedsSameSender", ss.testAppendDupSameSender)
		t.Run("EmptyClientMsgIDNeverDedups", ss.testAppendEmptyCMID)
		t.Run("MissingConversationPerMessage", ss.testAppendMissingConv)
		t.Run("MovesSenderReadCursor", ss.testAppendReadCursor)
		t.Run("NewVerForEveryMember", ss.testAppendVer)
		t.Run("VerAboveUsersOtherRows", ss.testAppendVerAcrossConvs)
		t.Run("ConcurrentSeqsGapless", ss.testAppendConcurrent)
	})
	t.Run("Messages", ss.testMessages)
	t.Run("ReviseMessage", ss.testReviseMessage)
	t.Run("VariantsStoredWithMessage", ss.testVariantsStoredWithMessage) // store_variants.go
	t.Run("Changes", func(t *testing.T) {
		t.Run("AscendingByVer", ss.testChangesAscending)
		t.Run("SinceAndLimit", ss.testChangesSinceLimit)
		t.Run("OnlyTheUsers", ss.testChangesOnlyTheUsers)
	})
	t.Run("Conversations", func(t *testing.T) {
		t.Run("NewestFirstWithLast", ss.testConversationsNewestFirst)
		t.Run("BeforeVerAndLimit", ss.testConversationsBeforeVer)
	})
	t.Run("MarkRead", func(t *testing.T) {
		t.Run("ClampsAndNeverMovesBack", ss.testMarkReadSteps)
		t.Run("PeerSeesNewVer", ss.testMarkReadPeer)
		t.Run("Errors", ss.testMarkReadErrors)
	})
	t.Run("ConvSettings", func(t *testing.T) { // store_settings.go
		t.Run("OwnAndVersioned", ss.testConvSettingsOwn)
		t.Run("HideUntilNewMessage", ss.testConvSettingsHide)
		t.Run("GroupAndMutedBy", ss.testConvSettingsGroup)
		t.Run("Errors", ss.testConvSettingsErrors)
	})
}

// storeSuite is one run of RunStoreTests.
type storeSuite struct {
	open   func(t *testing.T) parley.Store
	prefix string // random, so that runs on a shared database do not collide
	n      atomic.Uint64
}

func storeRunPrefix(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// id returns an id no other subtest or run uses.
func (ss *storeSuite) id(kind string) string {
	return fmt.Sprintf("%s-%s-%d", kind, ss.prefix, ss.n.Add(1))
}

// storeEnv is one subtest's store and app.
type storeEnv struct {
	t   *testing.T
	ctx context.Context
	s   parley.Store
	app string
	ss  *storeSuite
}

func (ss *storeSuite) env(t *testing.T) *storeEnv {
	t.Helper()
	return &storeEnv{t: t, ctx: t.Context(), s: ss.open(t), app: ss.id("app"), ss: ss}
}

// cmpOpts compares JSON by value (a store may re-encode it) and treats
// nil and empty slices alike.
func storeCmpOpts() cmp.Options {
	return cmp.Options{
		cmp.Comparer(func(a, b json.RawMessage) bool {
			if len(a) == 0 || len(b) == 0 {
				return len(a) == len(b)
			}
			var x, y any
			if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
				return bytes.Equal(a, b)
			}
			return reflect.DeepEqual(x, y)
		}),
		cmp.FilterPath(func(p cmp.Path) bool {
			return p.Last().Type() != reflect.TypeFor[json.RawMessage]()
		}, cmpopts.EquateEmpty()),
	}
}

// wantCode fails unless err carries code ("" for no error).
func wantStoreCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := parley.ErrorCode(err); got != code {
		t.Errorf("%s: got error %v (code %q), want code %q", what, err, got, code)
	}
}

// ms is a time with millisecond precision, which every store keeps.
func storeTime(v int64) time.Time { return time.UnixMilli(v) }

func (ss *storeSuite) testAppCreateThenGet(t *testing.T) {
	e := ss.env(t)
	want := parley.App{ID: e.app, Name: "Shop", KeyHash: []byte{1, 2, 3}, TokenSecret: []byte("secret"), CreatedAt: storeTime(1_700_000_000_123)}
	in := want
	if err := e.s.CreateApp(e.ctx, &in); err != nil {
		t.Fatalf("CreateApp: got error %v, want nil", err)
	}
	got, err := e.s.App(e.ctx, e.app)
	if err != nil {
		t.Fatalf("App: got error %v, want nil", err)
	}
	if d := cmp.Diff(want, *got, storeCmpOpts()); d != "" {
		t.Errorf("App: got a different app (-want +got):\n%s", d)
	}
}

func (ss *storeSuite) testAppDuplicate(t *testing.T) {
	e := ss.env(t)
	first := parley.App{ID: e.app, Name: "first", KeyHash: []byte{1}, TokenSecret: []byte{2}, CreatedAt: storeTime(1_700_000_000_000)}
	if err := e.s.CreateApp(e.ctx, &first); err != nil {
		t.Fatalf("CreateApp: got error %v, want nil", err)
	}
	second := parley.App{ID: e.app, Name: "second", KeyHash: []byte{3}, TokenSecret: []byte{4}, CreatedAt: storeTime(1_700_000_001_000)}
	wantStoreCode(t, "CreateApp with a taken id", e.s.CreateApp(e.ctx, &second), parley.EConflict)
	got, err := e.s.App(e.ctx, e.app)
	if err != nil {
		t.Fatalf("App: got error %v, want nil", err)
	}
	if got.Name != "first" {
		t.Errorf("App after a conflicting create: got name %q, want %q", got.Name, "first")
	}
}

func (ss *storeSuite) testAppMissing(t *testing.T) {
	e := ss.env(t)
	_, err := e.s.App(e.ctx, e.app)
	wantStoreCode(t, "App of an unknown id", err, parley.ENotFound)
}

func (ss *storeSuite) testUserUpsertThenGet(t *testing.T) {
	e := ss.env(t)
	in := []parley.User{
		{ID: "bob", Name: "Bob", Role: parley.RoleAgent, Avatar: "https://x/b.png", Metadata: json.RawMessage(`{"tier": 2}`)},
		{ID: "alice", Name: "Alice", Role: parley.RoleUser},
	}
	if err := e.s.UpsertUsers(e.ctx, e.app, in); err != nil {
		t.Fatalf("UpsertUsers: got error %v, want nil", err)
	}
	for _, want := range in {
		got, err := e.s.User(e.ctx, e.app, want.ID)
		if err != nil {
			t.Fatalf("User(%s): got error %v, want nil", want.ID, err)
		}
		if got.CreatedAt.IsZero() || got.UpdatedAt.IsZero() {
			t.Errorf("User(%s): got CreatedAt %v, UpdatedAt %v, want both set", want.ID, got.CreatedAt, got.UpdatedAt)
		}
		want.AppID = e.app
		ignore := cmpopts.IgnoreFields(parley.User{}, "CreatedAt", "UpdatedAt")
		if d := cmp.Diff(want, *got, storeCmpOpts(), ignore); d != "" {
			t.Errorf("User(%s) (-want +got):\n%s", want.ID, d)
		}
	}
}

func (ss *storeSuite) testUserReplaceKeepsCreatedAt(t *testing.T) {
	e := ss.env(t)
	first := parley.User{ID: "carol", Name: "Carol", Role: parley.RoleUser, Avatar: "a.png", Metadata: json.RawMessage(`{"a":1}`)}
	if err := e.s.UpsertUsers(e.ctx, e.app, []parley.User{first}); err != nil {
		t.Fatalf("UpsertUsers: got error %v, want nil", err)
	}
	before, err := e.s.User(e.ctx, e.app, "carol")
	if err != nil {
		t.Fatalf("User: got error %v, want nil", err)
	}
	time.Sleep(2 * time.Millisecond) // so that a wrongly reset CreatedAt differs
	second := parley.User{ID: "carol", Name: "Caroline", Role: parley.RoleAgent}
	if err := e.s.UpsertUsers(e.ctx, e.app, []parley.User{second}); err != nil {
		t.Fatalf("UpsertUsers again: got error %v, want nil", err)
	}
	got, err := e.s.User(e.ctx, e.app, "carol")
	if err != nil {
		t.Fatalf("User: got error %v, want nil", err)
	}
	if !got.CreatedAt.Equal(before.CreatedAt) {
		t.Errorf("CreatedAt after a replace: got %v, want %v", got.CreatedAt, before.CreatedAt)
	}
	want := parley.User{AppID: e.app, ID: "carol", Name: "Caroline", Role: parley.RoleAgent}
	ignore := cmpopts.IgnoreFields(parley.User{}, "CreatedAt", "UpdatedAt")
	if d := cmp.Diff(want, *got, storeCmpOpts(), ignore); d != "" {
		t.Errorf("User after a replace: the profile is not replaced (-want +got):\n%s", d)
	}
}

func (ss *storeSuite) testUserMissing(t *testing.T) {
	e := ss.env(t)
	_, err := e.s.User(e.ctx, e.app, "nobody")
	wantStoreCode(t, "User of an unknown id", err, parley.ENotFound)
	other := ss.id("app")
	if err := e.s.UpsertUsers(e.ctx, other, []parley.User{{ID: "dave", Name: "Dave", Role: parley.RoleUser}}); err != nil {
		t.Fatalf("UpsertUsers: got error %v, want nil", err)
	}
	_, err = e.s.User(e.ctx, e.app, "dave")
	wantStoreCode(t, "User of another app", err, parley.ENotFound)
}

func (ss *storeSuite) testUserIDsPages(t *testing.T) {
	e := ss.env(t)
	var users []parley.User
	for _, id := range []string{"u3", "u1", "u5", "u2", "u4"} {
		users = append(users, parley.User{ID: id, Name: id, Role: parley.RoleUser})
	}
	if err := e.s.UpsertUsers(e.ctx, e.app, users); err != nil {
		t.Fatalf("UpsertUsers: got error %v, want nil", err)
	}
	if err := e.s.UpsertUsers(e.ctx, ss.id("app"), []parley.User{{ID: "u0", Name: "other app", Role: parley.RoleUser}}); err != nil {
		t.Fatalf("UpsertUsers: got error %v, want nil", err)
	}
	for _, tc := range []struct {
		after string
		limit int
		want  []string
	}{
		{"", 2, []string{"u1", "u2"}},
		{"u2", 2, []string{"u3", "u4"}},
		{"u4", 2, []string{"u5"}},
		{"u5", 2, nil},
		{"", 10, []string{"u1", "u2", "u3", "u4", "u5"}},
		{"u1x", 1, []string{"u2"}},
	} {
		got, err := e.s.UserIDs(e.ctx, e.app, tc.after, tc.limit)
		if err != nil {
			t.Fatalf("UserIDs(after %q, limit %d): got error %v, want nil", tc.after, tc.limit, err)
		}
		if d := cmp.Diff(tc.want, got, storeCmpOpts()); d != "" {
			t.Errorf("UserIDs(after %q, limit %d): got %q, want %q", tc.after, tc.limit, got, tc.want)
		}
	}
}

func (ss *storeSuite) testRevocationNone(t *testing.T) {
	e := ss.env(t)
	for _, device := range []string{"", "phone"} {
		got, err := e.s.RevokedBefore(e.ctx, e.app, "erin", device)
		if err != nil {
			t.Fatalf("RevokedBefore(device %q): got error %v, want nil", device, err)
		}
		if !got.IsZero() {
			t.Errorf("RevokedBefore(device %q) with no revocation: got %v, want the zero time", device, got)
		}
	}
}

// revoke records a revocation and fails the test on error.
func (e *storeEnv) revoke(user, device string, at time.Time) {
	e.t.Helper()
	if err := e.s.RevokeSessions(e.ctx, e.app, user, device, at); err != nil {
		e.t.Fatalf("RevokeSessions(%s, device %q): got error %v, want nil", user, device, err)
	}
}

// wantRevoked checks RevokedBefore.
func (e *storeEnv) wantRevoked(user, device string, want time.Time) {
	e.t.Helper()
	got, err := e.s.RevokedBefore(e.ctx, e.app, user, device)
	if err != nil {
		e.t.Fatalf("RevokedBefore(%s, device %q): got error %v, want nil", user, device, err)
	}
	if !got.Equal(want) {
		e.t.Errorf("RevokedBefore(%s, device %q): got %v, want %v", user, device, got, want)
	}
}

func (ss *storeSuite) testRevocationUserWide(t *testing.T) {
	e := ss.env(t)
	t1 := storeTime(1_700_000_000_000)
	e.revoke("frank", "", t1)
	e.wantRevoked("frank", "", t1)
	e.wantRevoked("frank", "phone", t1)
	e.wantRevoked("grace", "", time.Time{})
}

func (ss *storeSuite) testRevocationLaterWins(t *testing.T) {
	e := ss.env(t)
	t1, t2, t3 := storeTime(1_700_000_000_000), storeTime(1_700_000_100_000), storeTime(1_700_000_200_000)
	e.revoke("heidi", "", t1)
	e.revoke("heidi", "phone", t2)
	e.wantRevoked("heidi", "phone", t2) // device later than user-wide
	e.wantRevoked("heidi", "laptop", t1)
	e.wantRevoked("heidi", "", t1)
	e.revoke("heidi", "", t3)
	e.wantRevoked("heidi", "phone", t3) // user-wide later than device
	e.wantRevoked("heidi", "laptop", t3)
}
