package parleytest

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/parley-im/parley"
)

// RunRegistryTests checks that the registries open returns keep the
// parley.Registry contract. Each subtest is named for a sentence of the
// contract and calls open once.
//
// open must return a ready registry and register its cleanup with
// t.Cleanup. Every subtest uses app ids of its own, made fresh on each run,
// so open may hand out the same shared backend (a Redis database) every
// time. The suite asserts no timings; it needs only that a call's effect
// is visible to the calls that follow it.
func RunRegistryTests(t *testing.T, open func(t *testing.T) parley.Registry) {
	tests := []struct {
		name string
		f    func(t *testing.T, r parley.Registry)
	}{
		{"RegisterThenLocate", testRegisterThenLocate},
		{"RegisterKeepsEveryConnectionOfAUser", testRegisterKeepsEveryConnection},
		{"RegisterSameConnIDReplacesRow", testRegisterReplaces},
		{"UnregisterRemovesConnection", testUnregisterRemoves},
		{"UnregisterUnknownIsNotAnError", testUnregisterUnknown},
		{"UnregisterOnlyThatUsersConnection", testUnregisterOnlyThatUser},
		{"LocateManyUsers", testLocateManyUsers},
		{"LocateIsolatesApps", testLocateIsolatesApps},
		{"LocateNoUsersOrUnknownUsers", testLocateNothing},
		{"LocateRepeatedUserReturnsEachConnectionOnce", testLocateRepeatedUser},
		{"LocateResultIsACopy", testLocateCopy},
		{"ConcurrentRegistrations", testConcurrentRegistrations},
		{"RegisterWithoutAnIDIsInvalid", testRegisterWithoutID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, open(t)) })
	}
}

// registryTestID returns a valid id unique to this run, so that subtests
// sharing a backend cannot see each other's rows.
func registryTestID(prefix string) string {
	return prefix + "-" + rand.Text()[:12]
}

// registrySince is a connection time with whole seconds, which any
// registry can store without loss.
func registrySince(i int) time.Time {
	return time.Unix(1_700_000_000+int64(i), 0).UTC()
}

func registryConn(app, user, conn, node string, i int) parley.ConnInfo {
	return parley.ConnInfo{
		AppID:    app,
		UserID:   user,
		ConnID:   conn,
		Node:     node,
		Device:   "dev-" + conn,
		Platform: parley.PlatformWeb,
		ClientIP: fmt.Sprintf("10.0.0.%d", i%250+1),
		Since:    registrySince(i),
	}
}

func mustRegister(t *testing.T, r parley.Registry, conns ...parley.ConnInfo) {
	t.Helper()
	for _, c := range conns {
		if err := r.Register(context.Background(), c); err != nil {
			t.Fatalf("Register(%+v): %v", c, err)
		}
	}
}

func mustUnregister(t *testing.T, r parley.Registry, app, user, conn string) {
	t.Helper()
	if err := r.Unregister(context.Background(), app, user, conn); err != nil {
		t.Fatalf("Unregister(%q, %q, %q): %v", app, user, conn, err)
	}
}

// checkLocate asserts that Locate returns exactly want, in any order.
func checkLocate(t *testing.T, r parley.Registry, app string, users []string, want ...parley.ConnInfo) {
	t.Helper()
	got, err := r.Locate(context.Background(), app, users)
	if err != nil {
		t.Fatalf("Locate(%q, %q): %v", app, users, err)
	}
	sortConns(got)
	sortConns(want)
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("Locate(%q, %q) (-want +got):\n%s", app, users, diff)
	}
}

func sortConns(cs []parley.ConnInfo) {
	slices.SortFunc(cs, func(a, b parley.ConnInfo) int {
		return cmp.Or(cmp.Compare(a.AppID, b.AppID), cmp.Compare(a.UserID, b.UserID), cmp.Compare(a.ConnID, b.ConnID))
	})
}

func testRegisterThenLocate(t *testing.T, r parley.Registry) {
	app := registryTestID("app")
	c := registryConn(app, "u1", "c1", "node-a", 1)
	c.Platform, c.ClientIP = parley.PlatformIOS, "2001:db8::1"
	mustRegister(t, r, c)
	checkLocate(t, r, app, []string{"u1"}, c)
}

func testRegisterKeepsEveryConnection(t *testing.T, r parley.Registry) {
	app := registryTestID("app")
	web := registryConn(app, "u1", "c1", "node-a", 1)
	ios := registryConn(app, "u1", "c2", "node-b", 2)
	ios.Platform = parley.PlatformIOS
	pc := registryConn(app, "u1", "c3", "node-a", 3)
	pc.Platform = parley.PlatformPC
	mustRegister(t, r, web, ios, pc)
	checkLocate(t, r, app, []string{"u1"}, web, ios, pc)
}

func testRegisterReplaces(t *testing.T, r parley.Registry) {
	app := registryTestID("app")
	old := registryConn(app, "u1", "c1", "node-a", 1)
	other := registryConn(app, "u1", "c2", "node-a", 2)
	mustRegister(t, r, old, other)
	refreshed := old
	refreshed.Node, refreshed.Device, refreshed.Platform = "node-b", "phone", parley.PlatformAndroid
	refreshed.ClientIP, refreshed.Since = "192.0.2.7", registrySince(100)
	mustRegister(t, r, refreshed)
	checkLocate(t, r, app, []string{"u1"}, refreshed, other)
	// Refreshing with an identical row changes nothing either.
	mustRegister(t, r, refreshed)
	checkLocate(t, r, app, []string{"u1"}, refreshed, other)
}

func testUnregisterRemoves(t *testing.T, r parley.Registry) {
	app := registryTestID("app")
	c1 := registryConn(app, "u1", "c1", "node-a", 1)
	c2 := registryConn(app, "u1", "c2", "node-b", 2)
	mustRegister(t, r, c1, c2)
	mustUnregister(t, r, app, "u1", "c1")
	checkLocate(t, r, app, []string{"u1"}, c2)
	mustUnregister(t, r, app, "u1", "c2")
	checkLocate(t, r, app, []string{"u1"})
	// A removed connection can come back.
	mustRegister(t, r, c1)
	checkLocate(t, r, app, []string{"u1"}, c1)
}

func testUnregisterUnknown(t *testing.T, r parley.Registry) {
	app := registryTestID("app")
	c := registryConn(app, "u1", "c1", "node-a", 1)
	mustRegister(t, r, c)
	mustUnregister(t, r, registryTestID("unknown-app"), "u1", "c1")
	mustUnregister(t, r, app, "nobody", "c1")
	mustUnregister(t, r, app, "u1", "no-such-conn")
	mustUnregister(t, r, app, "u1", "c1")
	mustUnregister(t, r, app, "u1", "c1") // twice
	checkLocate(t, r, app, []string{"u1"})
}

func testUnregisterOnlyThatUser(t *testing.T, r parley.Registry) {
	app := registryTestID("app")
	a := registryConn(app, "alice", "c1", "node-a", 1)
	b := registryConn(app, "bob", "c1", "node-a", 2) // same connection id, another user
	mustRegister(t, r, a, b)
	mustUnregister(t, r, app, "bob", "c1")
	checkLocate(t, r, app, []string{"alice", "bob"}, a)
}

func testLocateManyUsers(t *testing.T, r parley.Registry) {
	app := registryTestID("app")
	var want []parley.ConnInfo
	var users []string
	for u := range 40 {
		user := fmt.Sprintf("user-%d", u)
		users = append(users, user)
		for c := range u % 4 { // users with 0 to 3 connections
			conn := registryConn(app, user, fmt.Sprintf("c%d-%d", u, c), fmt.Sprintf("node-%d", c), u*4+c)
			mustRegister(t, r, conn)
			if u%3 != 0 {
				want = append(want, conn)
			}
		}
	}
	var asked []string
	for u, user := range users {
		if u%3 != 0 {
			asked = append(asked, user)
		}
	}
	asked = append(asked, "never-connected")
	checkLocate(t, r, app, asked, want...)
}

func testLocateIsolatesApps(t *testing.T, r parley.Registry) {
	appA, appB := registryTestID("app-a"), registryTestID("app-b")
	// The same user and connection ids in two apps are different rows.
	a := registryConn(appA, "u1", "c1", "node-a", 1)
	b := registryConn(appB, "u1", "c1", "node-b", 2)
	b2 := registryConn(appB, "u2", "c2", "node-b", 3)
	mustRegister(t, r, a, b, b2)
	checkLocate(t, r, appA, []string{"u1", "u2"}, a)
	checkLocate(t, r, appB, []string{"u1", "u2"}, b, b2)
	mustUnregister(t, r, appA, "u1", "c1")
	checkLocate(t, r, appA, []string{"u1", "u2"})
	checkLocate(t, r, appB, []string{"u1", "u2"}, b, b2)
}

func testLocateNothing(t *testing.T, r parley.Registry) {
	app := registryTestID("app")
	mustRegister(t, r, registryConn(app, "u1", "c1", "node-a", 1))
	checkLocate(t, r, app, nil)
	checkLocate(t, r, app, []string{})
	checkLocate(t, r, app, []string{"nobody"})
	checkLocate(t, r, app, []string{"nobody", "nobody-else"})
	checkLocate(t, r, registryTestID("unknown-app"), []string{"u1"})
}

func testLocateRepeatedUser(t *testing.T, r parley.Registry) {
	app := registryTestID("app")
	c1 := registryConn(app, "u1", "c1", "node-a", 1)
	c2 := registryConn(app, "u1", "c2", "node-b", 2)
	c3 := registryConn(app, "u2", "c3", "node-b", 3)
	mustRegister(t, r, c1, c2, c3)
	checkLocate(t, r, app, []string{"u1", "u2", "u1", "u1"}, c1, c2, c3)
}

func testLocateCopy(t *testing.T, r parley.Registry) {
	app := registryTestID("app")
	c := registryConn(app, "u1", "c1", "node-a", 1)
	mustRegister(t, r, c)
	got, err := r.Locate(context.Background(), app, []string{"u1"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i].Node = "scribbled"
	}
	checkLocate(t, r, app, []string{"u1"}, c)
}

// testConcurrentRegistrations runs 16 writers at once, each registering
// connections of its own user and of one user they all share, removing
// half of its own, while readers Locate. Run it with -race.
func testConcurrentRegistrations(t *testing.T, r parley.Registry) {
	const writers, perWriter = 16, 20
	app := registryTestID("app")
	ctx := context.Background()
	users := []string{"shared"}
	for w := range writers {
		users = append(users, fmt.Sprintf("w%d", w))
	}

	var wg sync.WaitGroup
	done := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := r.Locate(ctx, app, users); err != nil {
					t.Errorf("concurrent Locate: %v", err)
					return
				}
			}
		})
	}
	var writersWG sync.WaitGroup
	wantCh := make(chan []parley.ConnInfo, writers)
	for w := range writers {
		writersWG.Go(func() {
			own := fmt.Sprintf("w%d", w)
			var kept []parley.ConnInfo
			for i := range perWriter {
				c := registryConn(app, own, fmt.Sprintf("w%d-c%d", w, i), fmt.Sprintf("node-%d", w%3), i)
				s := registryConn(app, "shared", fmt.Sprintf("w%d-s%d", w, i), fmt.Sprintf("node-%d", w%3), i)
				for _, x := range []parley.ConnInfo{c, s} {
					if err := r.Register(ctx, x); err != nil {
						t.Errorf("concurrent Register(%+v): %v", x, err)
					}
				}
				if i%2 == 0 {
					if err := r.Unregister(ctx, app, own, c.ConnID); err != nil {
						t.Errorf("concurrent Unregister: %v", err)
					}
				} else {
					kept = append(kept, c)
				}
				kept = append(kept, s)
			}
			wantCh <- kept
		})
	}
	writersWG.Wait()
	close(done)
	wg.Wait()
	close(wantCh)
	var want []parley.ConnInfo
	for kept := range wantCh {
		want = append(want, kept...)
	}
	checkLocate(t, r, app, users, want...)
}

// testRegisterWithoutID: a row lacking its app, user, connection or node
// id is refused with EInvalid and not stored.
func testRegisterWithoutID(t *testing.T, r parley.Registry) {
	app := registryTestID("app")
	full := registryConn(app, "u1", "c1", "node-a", 1)
	for _, tc := range []struct {
		name  string
		blank func(*parley.ConnInfo)
	}{
		{"app", func(c *parley.ConnInfo) { c.AppID = "" }},
		{"user", func(c *parley.ConnInfo) { c.UserID = "" }},
		{"connection", func(c *parley.ConnInfo) { c.ConnID = "" }},
		{"node", func(c *parley.ConnInfo) { c.Node = "" }},
	} {
		c := full
		tc.blank(&c)
		if err := r.Register(context.Background(), c); parley.ErrorCode(err) != parley.EInvalid {
			t.Errorf("Register without a %s id: got error %v, want code %q", tc.name, err, parley.EInvalid)
		}
	}
	checkLocate(t, r, app, []string{"u1", ""})
}
