package server_test

import (
	"fmt"
	"testing"

	"github.com/parley-im/parley"
)

// TestConsultSupervisor: a supervisor follows the shop live (consult
// pushes of every transition, rating and status), assigns a waiting
// consultation by hand with a note, takes it over, and the backend sends
// it back to the line for a team with a note, where it keeps its place;
// an agent of that team then gets it first. Only supervisors assign by
// hand; the user rates only after the resolution.
func TestConsultSupervisor(t *testing.T) {
	n := startNode(t, "gws")
	agents := consultSetup(t, n, "least_loaded", []string{"u1", "u2"})
	sup, a1 := agents["a3"], agents["a1"]
	// Only the team vip serves the queue, and nobody is in it yet.
	if st := n.api(t, "PUT", "/v1/server/consult/queues/s1", map[string]any{"shop": "s1", "strategy": "least_loaded", "team": "vip"}, nil); st != 200 {
		t.Fatalf("queue: status %d", st)
	}
	u1, id1, f := consultNow(t, n, "u1", "hello")
	u2, id2, f2 := consultNow(t, n, "u2", "hello")
	if f["position"] != 1.0 || f2["position"] != 2.0 {
		t.Fatalf("waiting: got %v and %v, want positions 1 and 2", f, f2)
	}
	transfer := func(c *cc, id, to, note string) (map[string]any, string) {
		return c.req(t, fmt.Sprintf(`{"type":"consult_transfer","consult":%q,%s,"note":%q}`, id, to, note))
	}
	livePush := func(event, id string) map[string]any {
		t.Helper()
		return sup.await(t, func(f map[string]any) bool {
			return f["type"] == "consult" && f["event"] == event && f["consult"].(map[string]any)["id"] == id
		})
	}
	livePush("pending", id1)
	livePush("pending", id2)

	// Assigning by hand is for supervisors.
	if _, code := transfer(a1, id1, `"agent":"a1"`, ""); code != parley.EForbidden {
		t.Fatalf("an agent assigns a waiting consultation: got %q, want forbidden", code)
	}
	d, code := transfer(sup, id1, `"agent":"a1"`, "please take")
	if code != "" || consultOf(d)["agent"] != "a1" || consultOf(d)["state"] != "assigned" {
		t.Fatalf("manual assignment: got %v, %q", d, code)
	}
	if p := u1.consultPush(t, "assigned"); consultOf(p)["agent"] != "a1" {
		t.Fatalf("u1: %v", p)
	}
	if p := u2.consultPush(t, "waiting"); p["position"] != 1.0 {
		t.Fatalf("u2 after u1 left the line: %v, want position 1", p)
	}
	livePush("assigned", id1)
	// The supervisor takes it over: a1 is told and leaves the thread.
	if d, code := transfer(sup, id1, `"agent":"a3"`, "mine now"); code != "" || consultOf(d)["agent"] != "a3" {
		t.Fatalf("take-over: got %v, %q", d, code)
	}
	if p := a1.consultPush(t, "transferred"); consultOf(p)["agent"] != "a3" {
		t.Fatalf("a1: %v", p)
	}
	if _, code := a1.req(t, fmt.Sprintf(`{"type":"pull","conv":%q}`, parley.ConsultConvID("s1", "u1"))); code != parley.EForbidden {
		t.Fatalf("a1 reads the thread after the take-over: got %q, want forbidden", code)
	}
	if _, code := u1.req(t, fmt.Sprintf(`{"type":"consult_rate","consult":%q,"score":5}`, id1)); code != parley.EConflict {
		t.Fatalf("rating an open consultation: got %q, want conflict", code)
	}
	// The backend sends it back to the line for vip: it is first again,
	// ahead of u2, who waited less.
	var res struct{ Consult parley.Consultation }
	if st := n.api(t, "POST", "/v1/server/consult/consultations/"+id1+"/transfer", map[string]any{"team": "vip", "note": "a vip"}, &res); st != 200 ||
		res.Consult.State != parley.ConsultPending || res.Consult.Team != "vip" || res.Consult.Agent != "" {
		t.Fatalf("transfer to a team: status %d, %+v", st, res.Consult)
	}
	if p := u1.consultPush(t, "waiting"); p["position"] != 1.0 {
		t.Fatalf("u1 back in the line: %v, want position 1", p)
	}
	if p := u2.consultPush(t, "waiting"); p["position"] != 2.0 {
		t.Fatalf("u2 behind u1 again: %v, want position 2", p)
	}
	if st := n.api(t, "POST", "/v1/server/consult/consultations/"+id1+"/transfer", map[string]any{"team": "not an id"}, nil); st != 400 {
		t.Fatalf("transfer to a bad team id: status %d, want 400", st)
	}
	// a2 joins vip (capacity 2): u1 first, then u2.
	if st := n.api(t, "PUT", "/v1/server/consult/agents/a2", map[string]any{"shop": "s1", "teams": []string{"vip"}, "max_load": 2}, nil); st != 200 {
		t.Fatalf("agent: status %d", st)
	}
	if p := u1.consultPush(t, "assigned"); consultOf(p)["agent"] != "a2" || consultOf(p)["team"] != "vip" {
		t.Fatalf("u1: %v", p)
	}
	if p := u2.consultPush(t, "assigned"); consultOf(p)["agent"] != "a2" {
		t.Fatalf("u2: %v", p)
	}
	agents["a2"].ok(t, fmt.Sprintf(`{"type":"consult_resolve","consult":%q}`, id1))
	u1.ok(t, fmt.Sprintf(`{"type":"consult_rate","consult":%q,"score":5}`, id1))
	if p := livePush("rated", id1); consultOf(p)["rating"] != 5.0 {
		t.Fatalf("rated push to the supervisor: %v", p)
	}
	a1.ok(t, `{"type":"consult_status","status":"away"}`)
	sup.await(t, func(f map[string]any) bool {
		return f["type"] == "consult" && f["event"] == "status" && f["agent"].(map[string]any)["id"] == "a1"
	})

	const hello = "Hello, how can I help?"
	wantThread(t, thread(t, u1, "u1"), "sys:opened", "u1:hello", "sys:pending",
		"sys:assigned", "auto:greeting:"+hello, "sys:transferred", "auto:greeting:"+hello,
		"sys:transferred", "sys:assigned", "auto:greeting:"+hello, "sys:resolved")
	// Who did what, with the notes, is in the thread.
	var notes []string
	for _, m := range u1.ok(t, fmt.Sprintf(`{"type":"pull","conv":%q}`, parley.ConsultConvID("s1", "u1")))["msgs"].([]any) {
		if b := m.(map[string]any)["body"].(map[string]any); b["event"] == "assigned" || b["event"] == "transferred" {
			notes = append(notes, fmt.Sprintf("%v by %v to %v%v: %v", b["event"], b["by"], b["agent"], b["team"], b["note"]))
		}
	}
	want := []string{"assigned by a3 to a1<nil>: please take", "transferred by a3 to a3<nil>: mine now",
		"transferred by _system to <nil>vip: a vip", "assigned by _system to a2vip: <nil>"}
	if fmt.Sprint(notes) != fmt.Sprint(want) {
		t.Fatalf("transitions in the thread:\ngot  %q\nwant %q", notes, want)
	}
}
