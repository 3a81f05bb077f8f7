package client_test

import (
	"bytes"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/client"
	"github.com/parley-im/parley/internal/server"
)

// socialEvents collects what the social callbacks receive.
type socialEvents struct {
	presence chan parley.Presence
	profiles chan parley.User
	contacts chan []parley.Contact
}

// options sets the callbacks. They never block: a test that does not
// read a channel must not stall the client's deliverer.
func (s *socialEvents) options(o *client.Options) {
	o.OnPresence = func(p parley.Presence) { offer(s.presence, p) }
	o.OnProfile = func(u parley.User) { offer(s.profiles, u) }
	o.OnContacts = func(cs []parley.Contact) { offer(s.contacts, cs) }
}

func offer[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}

func newSocialEvents() *socialEvents {
	return &socialEvents{presence: make(chan parley.Presence, 16), profiles: make(chan parley.User, 16), contacts: make(chan []parley.Contact, 16)}
}

func next[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("no %s within %v", what, waitLimit)
		panic("unreachable")
	}
}

// TestContactsProfilesPresence: over WebSocket and long-poll, a client
// manages its contacts (its other device told through OnContacts), hears
// a contact's presence and profile changes, and asks for presence and
// profiles.
func TestContactsProfilesPresence(t *testing.T) {
	e := newEnv(t, "gws", func(c *server.Config) { c.PresenceDebounce = 200 * time.Millisecond })
	e.users("alice", "bob", "carol")
	for _, tr := range []string{client.TransportWS, client.TransportLongPoll} {
		t.Run(tr, func(t *testing.T) {
			ctx := ctxT(t)
			ev1, ev2 := newSocialEvents(), newSocialEvents()
			setTr := func(o *client.Options) { o.Transport = tr }
			a1, _ := e.dial("alice", "a1-"+tr, setTr, ev1.options)
			_, _ = e.dial("alice", "a2-"+tr, setTr, ev2.options)
			res, err := a1.AddContacts(ctx, []string{"bob"}, "Bobby")
			if err != nil || len(res.Contacts) != 1 || res.Contacts[0].Alias != "Bobby" || res.Contacts[0].Profile == nil {
				t.Fatalf("AddContacts: got %+v, %v, want bob as Bobby with his profile", res, err)
			}
			if cs := next(t, "contacts push", ev2.contacts); len(cs) != 1 || cs[0].UserID != "bob" {
				t.Fatalf("OnContacts on the other device: got %+v, want bob", cs)
			}
			if _, err := a1.AddContacts(ctx, []string{"ghost"}, ""); parley.ErrorCode(err) != parley.ENotFound {
				t.Errorf("AddContacts(ghost): got %v, want not_found", err)
			}

			// bob on WebSocket: a long-poll session ends only at its idle
			// timeout, and bob must go offline below.
			bob, _ := e.dial("bob", "b-"+tr)
			if p := next(t, "presence", ev1.presence); p.User != "bob" || !p.Online || !slices.Equal(p.Platforms, []parley.Platform{parley.PlatformWeb}) {
				t.Fatalf("OnPresence: got %+v, want bob online on web", p)
			}
			ps, err := a1.Presence(ctx, []string{"bob", "carol"})
			if err != nil || len(ps) != 1 || ps[0].User != "bob" || !ps[0].Online {
				t.Errorf("Presence(bob, carol): got %+v, %v, want bob online only", ps, err)
			}
			e.api("POST", "/v1/server/users", map[string]any{"users": []map[string]string{{"id": "bob", "name": "Robert " + tr}}}, nil)
			// The catch-up after connecting may report bob's older profile
			// first (he became a contact while it ran).
			u := next(t, "profile", ev1.profiles)
			for u.ID == "bob" && u.Name != "Robert "+tr {
				u = next(t, "profile", ev1.profiles)
			}
			if u.ID != "bob" || u.Ver == 0 {
				t.Fatalf("OnProfile: got %+v, want bob as Robert", u)
			}
			profs, err := a1.Profiles(ctx, 0, 0)
			if err != nil || len(profs.Users) != 1 || profs.Users[0].Name != "Robert "+tr || profs.Ver != profs.Users[0].Ver {
				t.Errorf("Profiles(0): got %+v, %v, want bob's new profile", profs, err)
			}
			bob.Close()
			if p := next(t, "presence", ev1.presence); p.User != "bob" || p.Online {
				t.Fatalf("OnPresence: got %+v, want bob offline", p)
			}
			rm, err := a1.RemoveContacts(ctx, []string{"bob"})
			if err != nil || len(rm.Contacts) != 1 || !rm.Contacts[0].Removed {
				t.Fatalf("RemoveContacts: got %+v, %v", rm, err)
			}
			sync, err := a1.Contacts(ctx, res.Ver, 0)
			if err != nil || len(sync.Contacts) != 1 || !sync.Contacts[0].Removed || sync.Ver != rm.Ver {
				t.Errorf("Contacts(since %d): got %+v, %v, want the removal", res.Ver, sync, err)
			}
		})
	}
}

// TestCatchUpAfterReconnect: a client with OnContacts and OnProfile gets
// the contact list and the profiles it cares about when it connects, and
// after a reconnection what changed while it missed the pushes.
func TestCatchUpAfterReconnect(t *testing.T) {
	e := newEnv(t, "gws")
	e.users("alice", "bob", "carol")
	e.api("POST", "/v1/server/users/alice/contacts", map[string]any{"users": []string{"bob"}}, nil)
	ev := newSocialEvents()
	var deaf atomic.Bool // discard contacts and profile pushes
	c, _ := e.dial("alice", "a1", ev.options, func(o *client.Options) {
		*o = client.WithHooks(*o, client.Hooks{Received: func(f []byte) client.FrameAction {
			if deaf.Load() && (bytes.Contains(f, []byte(`"type":"contacts"`)) || bytes.Contains(f, []byte(`"type":"profile"`))) {
				return client.FrameDiscard
			}
			return client.FrameHandle
		}})
	})
	if cs := next(t, "contacts on connect", ev.contacts); len(cs) != 1 || cs[0].UserID != "bob" {
		t.Fatalf("OnContacts on connect: got %+v, want the list [bob]", cs)
	}
	if u := next(t, "profile on connect", ev.profiles); u.ID != "bob" || u.Name != "bob" {
		t.Fatalf("OnProfile on connect: got %+v, want bob's profile", u)
	}
	deaf.Store(true)
	e.api("POST", "/v1/server/users", map[string]any{"users": []map[string]string{{"id": "bob", "name": "Rob"}}}, nil)
	e.api("POST", "/v1/server/users/alice/contacts", map[string]any{"users": []string{"carol"}}, nil)
	time.Sleep(100 * time.Millisecond) // the pushes come and are discarded
	deaf.Store(false)
	c.Drop()
	if cs := next(t, "contacts after reconnecting", ev.contacts); len(cs) != 1 || cs[0].UserID != "carol" {
		t.Fatalf("OnContacts after reconnecting: got %+v, want the change [carol]", cs)
	}
	var got []string
	for len(got) < 2 {
		u := next(t, "profiles after reconnecting", ev.profiles)
		got = append(got, u.ID+"="+u.Name)
	}
	slices.Sort(got)
	if want := []string{"bob=Rob", "carol=carol"}; !slices.Equal(got, want) {
		t.Errorf("OnProfile after reconnecting: got %v, want %v (bob changed, carol newly cared about)", got, want)
	}
}
