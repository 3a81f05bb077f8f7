package pgmove_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/consult"
	"github.com/parley-im/parley/internal/events"
	"github.com/parley-im/parley/internal/files"
	"github.com/parley-im/parley/internal/notify"
	"github.com/parley-im/parley/internal/sqlite"
)

// fullStore is everything a node keeps in its database, which both
// stores implement (internal/server's nodeStore).
type fullStore interface {
	parley.Store
	files.Catalog
	consult.Store
	notify.Store
	events.Outbox
	events.WebhookStore
}

const (
	acme, beta = "acme", "beta"
	t0         = int64(1_760_000_000_000)
)

var users = []string{"ann", "bob", "cat", "dan"}

// fixture is what buildSQLite stored, for the checks after the move.
type fixture struct {
	path                     string
	annBob, annCat, group    string // conversation ids
	english, chinese, edited string // message ids
	groupText                string
	betaConv                 string
	pushes                   []notify.Push
}

// buildSQLite fills a new SQLite store in dir with every kind of data,
// through the store's own API, and closes it.
func buildSQLite(t *testing.T, dir string) *fixture {
	t.Helper()
	ctx := t.Context()
	f := &fixture{path: filepath.Join(dir, "parley.db")}
	db, err := sqlite.Open(ctx, f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	n := 0
	msg := func(app, conv, from string, kind parley.Kind, body string) *parley.Message {
		n++
		return &parley.Message{AppID: app, ConvID: conv, ID: fmt.Sprintf("m%03d", n), Sender: from,
			Kind: kind, Body: json.RawMessage(body), Time: t0 + int64(n)}
	}
	send := func(ms ...*parley.Message) {
		t.Helper()
		res, err := db.Append(ctx, ms)
		must("Append", err)
		for _, r := range res {
			must("Append result", r.Err)
		}
	}

	for _, app := range []string{acme, beta} {
		must("CreateApp", db.CreateApp(ctx, &parley.App{ID: app, Name: "App " + app, KeyHash: []byte{1, 2, 3, 0},
			TokenSecret: []byte("secret of " + app), CreatedAt: time.UnixMilli(t0).UTC()}))
		var us []parley.User
		for _, u := range users {
			us = append(us, parley.User{ID: u, Name: u, Role: parley.RoleUser, Metadata: json.RawMessage(`{"x":1}`)})
		}
		must("UpsertUsers", db.UpsertUsers(ctx, app, us))
	}
	_, err = db.UpsertProfiles(ctx, acme, []parley.User{{ID: "ann", Name: "Ann A.", Avatar: "a.png", Role: parley.RoleUser}})
	must("UpsertProfiles", err)
	must("RevokeSessions", db.RevokeSessions(ctx, acme, "ann", "d1", time.Unix(0, t0*1e6+7)))
	must("RevokeSessions", db.RevokeSessions(ctx, acme, "bob", "", time.Unix(0, t0*1e6+9)))
	receipts := false
	_, err = db.UpdateAppSettings(ctx, acme, parley.AppSettingsPatch{Set: parley.AppSettings{Receipts: &receipts}})
	must("UpdateAppSettings", err)

	f.annBob, f.annCat = parley.DirectConvID("ann", "bob"), parley.DirectConvID("ann", "cat")
	f.betaConv = parley.DirectConvID("ann", "bob")
	must("EnsureConversations", db.EnsureConversations(ctx, []parley.Conversation{
		{AppID: acme, ID: f.annBob, Kind: parley.ConvDirect, Members: []string{"ann", "bob"}},
		{AppID: acme, ID: f.annCat, Kind: parley.ConvDirect, Members: []string{"ann", "cat"}},
		{AppID: beta, ID: f.betaConv, Kind: parley.ConvDirect, Members: []string{"ann", "bob"}},
	}))
	en := msg(acme, f.annBob, "ann", parley.KindText, `{"text":"Meeting tomorrow at ten"}`)
	en.ClientMsgID = "c-1"
	zh := msg(acme, f.annBob, "bob", parley.KindText, `{"text":"我们明天在北京见面"}`)
	ed := msg(acme, f.annCat, "cat", parley.KindText, `{"text":"lunch on friday"}`)
	sys := msg(acme, f.annCat, parley.SystemUserID, parley.KindSystem, `{"text":"default notice"}`)
	sys.Variants = []parley.Variant{{Role: parley.RoleUser, Body: json.RawMessage(`{"text":"for users"}`)}}
	send(en, zh, ed, sys, msg(beta, f.betaConv, "bob", parley.KindText, `{"text":"beta hello"}`))
	f.english, f.chinese, f.edited = en.ID, zh.ID, ed.ID
	for i := range 5 {
		send(msg(acme, f.annBob, users[i%2], parley.KindText, fmt.Sprintf(`{"text":"message number %d"}`, i)))
	}
	must("ReviseMessage", db.ReviseMessage(ctx, acme, f.annCat, ed.Seq, parley.KindText, []byte(`{"text":"dinner on saturday"}`)))
	send(msg(acme, f.annCat, "cat", parley.KindEdit, fmt.Sprintf(`{"seq":%d}`, ed.Seq)))
	_, _, err = db.MarkRead(ctx, acme, f.annBob, "bob", 2)
	must("MarkRead", err)
	yes := true
	_, _, err = db.SetConvSettings(ctx, acme, f.annCat, "ann", parley.ConvSettings{Pin: &yes})
	must("SetConvSettings", err)
	_, _, err = db.SetConvSettings(ctx, acme, f.annBob, "bob", parley.ConvSettings{Mute: &yes})
	must("SetConvSettings", err)
	_, _, err = db.SetConvSettings(ctx, acme, f.annCat, "cat", parley.ConvSettings{Hide: &yes})
	must("SetConvSettings", err)

	g := &parley.Group{AppID: acme, ID: "g1", Name: "Group one", Owner: "ann", MaxMembers: 100}
	create := msg(acme, "", parley.SystemUserID, parley.KindSystem, `{}`)
	create.Body = parley.CreatedBody(g, "ann", []string{"bob", "cat", "dan"})
	must("CreateGroup", db.CreateGroup(ctx, g, []string{"bob", "cat", "dan"}, create))
	f.group = parley.GroupConvID("g1")
	for _, c := range []parley.GroupChange{
		{AppID: acme, GroupID: "g1", Actor: "ann", Event: parley.EventRole, Users: []string{"bob"}, Role: parley.GroupRoleAdmin, Now: t0},
		{AppID: acme, GroupID: "g1", Actor: "ann", Event: parley.EventRemoved, Users: []string{"dan"}, Now: t0},
	} {
		changed, err := db.ChangeGroup(ctx, c, msg(acme, "", parley.SystemUserID, parley.KindSystem, `{}`))
		must("ChangeGroup", err)
		if !changed {
			t.Fatalf("ChangeGroup %s changed nothing", c.Event)
		}
	}
	gt := msg(acme, f.group, "cat", parley.KindText, `{"text":"群里的北京消息"}`)
	send(gt)
	f.groupText = gt.ID
	_, _, err = db.MarkRead(ctx, acme, f.group, "bob", 3)
	must("MarkRead", err)

	_, err = db.AddContacts(ctx, acme, "ann", []string{"bob", "cat"}, "friend")
	must("AddContacts", err)
	_, err = db.RemoveContacts(ctx, acme, "ann", []string{"cat"})
	must("RemoveContacts", err)
	_, err = db.AddContacts(ctx, acme, "bob", []string{"ann"}, "")
	must("AddContacts", err)

	must("CreateFile", db.CreateFile(ctx, &files.File{ID: "f0123456789abcdef", AppID: acme, ConvID: f.annBob, Uploader: "ann",
		Name: "plan.pdf", Size: 1234, MIME: "application/pdf", SHA256: "ab12", CreatedAt: time.UnixMilli(t0).UTC()}))
	f.pushes = []notify.Push{{AppID: acme, UserID: "bob", MsgID: en.ID, ConvID: f.annBob, Seq: en.Seq, Sender: "ann",
		Kind: parley.KindText, Title: "Ann", Preview: "Meeting tomorrow", Time: t0}}
	_, err = db.RecordPushes(ctx, f.pushes)
	must("RecordPushes", err)

	must("PutShop", db.PutShop(ctx, &parley.Shop{AppID: acme, ID: "s1", Name: "Shop", Greeting: "hi"}))
	must("PutQueue", db.PutQueue(ctx, &parley.ConsultQueue{AppID: acme, ID: "q1", Shop: "s1", Strategy: parley.StrategyEven}))
	must("PutAgent", db.PutAgent(ctx, &parley.Agent{AppID: acme, ID: "dan", Shop: "s1", Name: "Dan", Teams: []string{"t1"},
		Weight: 1, MaxLoad: 3, Supervisor: true, Status: parley.AgentOnline}))
	c := &parley.Consultation{AppID: acme, ID: "k1", Shop: "s1", User: "ann", Conv: parley.ConsultConvID("s1", "ann"),
		Queue: "q1", State: parley.ConsultPending, Entry: "web", OpenedAt: t0, PendingAt: t0 + 1}
	_, err = db.Open(ctx, c)
	must("Open", err)
	_, err = db.Transition(ctx, consult.Transition{AppID: acme, ID: "k1", From: []parley.ConsultState{parley.ConsultPending},
		To: parley.ConsultAssigned, Agent: "dan", By: parley.SystemUserID, At: t0 + 2})
	must("Transition", err)

	must("EventLog.Append", db.EventLog().Append(ctx, []events.Event{
		{ID: "e-1", App: acme, Type: "test", Time: t0, Data: json.RawMessage(`{"a":1}`)},
		{ID: "e-2", App: acme, Type: "test", Time: t0 + 1, Data: json.RawMessage(`{"a":2}`)},
	}))
	hook := &events.Webhook{App: acme, URL: "https://example.com/hook", Secret: "s3cret"}
	must("PutWebhook", db.PutWebhook(ctx, hook))
	_, err = db.AdvanceWebhook(ctx, acme, hook.Version, 1, &events.DeadLetter{App: acme, First: 1, Last: 1, Events: 1,
		Attempts: 8, Error: "502", Time: t0})
	must("AdvanceWebhook", err)
	return f
}

// snapshot is everything a store answers about the fixture's data
// through its public API.
type snapshot map[string]any

// since lists the versions each user syncs from in a snapshot: 0 and a
// version from the middle of each user's history.
type since map[string][]uint64

// take reads everything the fixture stored from st and log.
func take(ctx context.Context, t *testing.T, st fullStore, log events.EventLog, f *fixture, from since) snapshot {
	t.Helper()
	s := snapshot{}
	put := func(key string, v any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		s[key] = v
	}
	for _, app := range []string{acme, beta} {
		a, err := st.App(ctx, app)
		put(app+"/app", a, err)
		as, err := st.AppSettings(ctx, app)
		put(app+"/settings", as, err)
		ids, err := st.UserIDs(ctx, app, "", 100)
		put(app+"/userids", ids, err)
		for _, u := range users {
			p, err := st.User(ctx, app, u)
			put(app+"/user/"+u, p, err)
			for _, dev := range []string{"", "d1", "d2"} {
				r, err := st.RevokedBefore(ctx, app, u, dev)
				put(app+"/revoked/"+u+"/"+dev, r, err)
			}
			for _, v := range append([]uint64{0}, from[app+"/"+u]...) {
				ch, err := st.Changes(ctx, app, u, v, 1000)
				put(fmt.Sprintf("%s/changes/%s/%d", app, u, v), ch, err)
			}
			cs, err := st.Conversations(ctx, app, u, 0, 1000)
			put(app+"/convs/"+u, cs, err)
			ct, err := st.Contacts(ctx, app, u, 0, 1000)
			put(app+"/contacts/"+u, ct, err)
			ps, err := st.ProfilesSince(ctx, app, u, 0, parley.InterestDefault, 1000)
			put(app+"/profiles/"+u, ps, err)
			for _, q := range []string{"meeting", "北京", "dinner", "lunch", "message", "hello", "for"} {
				r, err := st.SearchMessages(ctx, app, u, parley.SearchQuery{Text: q})
				put(app+"/search/"+u+"/"+q, r, err)
			}
			// Pages of two: the cursors must carry over too.
			for q, page := (parley.SearchQuery{Text: "message", Limit: 2}), 0; ; page++ {
				r, err := st.SearchMessages(ctx, app, u, q)
				put(fmt.Sprintf("%s/search/%s/message/%d", app, u, page), r, err)
				if r.Next == 0 {
					break
				}
				q.Before = r.Next
			}
		}
	}
	for _, c := range []string{f.annBob, f.annCat, f.group, parley.ConsultConvID("s1", "ann")} {
		ms, err := st.Messages(ctx, acme, c, parley.MessageRange{Limit: 1000})
		put("msgs/"+c, ms, err)
		mb, err := st.Members(ctx, acme, c)
		put("members/"+c, mb, err)
		mu, err := st.MutedBy(ctx, acme, c)
		put("mutedby/"+c, mu, err)
	}
	ms, err := st.Messages(ctx, beta, f.betaConv, parley.MessageRange{Limit: 1000})
	put("beta/msgs", ms, err)
	g, err := st.Group(ctx, acme, "g1")
	put("group", g, err)
	gm, err := st.GroupMembers(ctx, acme, "g1", "", 100)
	put("groupmembers", gm, err)
	read, total, readers, err := st.ReadReceipts(ctx, acme, f.group, 3, 100)
	put("receipts", []any{read, total, readers}, err)
	fl, err := st.File(ctx, acme, "f0123456789abcdef")
	put("file", fl, err)
	sh, err := st.Shop(ctx, acme, "s1")
	put("shop", sh, err)
	qs, err := st.Queues(ctx, acme, "")
	put("queues", qs, err)
	ag, err := st.Agents(ctx, acme, "")
	put("agents", ag, err)
	ks, err := st.Consults(ctx, acme, consult.Filter{})
	put("consults", ks, err)
	ev, err := st.Events(ctx, acme, 0, math.MaxInt64)
	put("consult-events", ev, err)
	ld, err := st.AgentLoadsAt(ctx, acme, math.MaxInt64)
	put("loads", ld, err)
	wh, err := st.Webhooks(ctx)
	put("webhooks", wh, err)
	dl, err := st.DeadLetters(ctx, acme, 0, 100)
	put("dead", dl, err)
	ob, err := st.OutboxRows(ctx, 1000)
	put("outbox", ob, err)
	el, err := log.Read(ctx, acme, 0, 1000)
	put("eventlog", el, err)
	return s
}
