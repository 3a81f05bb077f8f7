package consult

import (
	"context"

	"github.com/parley-im/parley"
)

// EventKind names what a stored consult event records.
type EventKind string

// Event kinds. Every transition writes its events in the transaction
// that applies it, so the event log and the consultations always agree;
// metrics are computed from the log alone (metrics.go).
const (
	EvOpened      EventKind = "opened"      // the consultation was created (initial, or pending when opened by a message)
	EvPending     EventKind = "pending"     // the user's first message: it waits for an agent
	EvAssigned    EventKind = "assigned"    // Agent took it; Load is the agent's load after
	EvReleased    EventKind = "released"    // Agent stopped serving it (transfer, resolution); Load after
	EvTransferred EventKind = "transferred" // moved to Agent, or back to the queue for Team; Note says why
	EvRequeued    EventKind = "requeued"    // back to pending (a transfer to a team)
	EvResolved    EventKind = "resolved"    // Note: who resolved it (an agent, or "_system")
	EvUserMsg     EventKind = "user_msg"    // the user wrote
	EvAgentMsg    EventKind = "agent_msg"   // Agent wrote
	EvRated       EventKind = "rated"       // Value: the score; Note: the comment
)

// Event is one stored consult event. At is Unix ms of the service's
// clock; ID orders events stored at the same millisecond.
type Event struct {
	ID      int64     `json:"id"`
	AppID   string    `json:"-"`
	Consult string    `json:"consult"`
	Kind    EventKind `json:"kind"`
	At      int64     `json:"at"`
	Shop    string    `json:"shop"`
	Queue   string    `json:"queue"`
	Team    string    `json:"team,omitempty"`
	Agent   string    `json:"agent,omitempty"`
	User    string    `json:"user"`
	Load    int       `json:"load,omitempty"`
	Value   int       `json:"value,omitempty"`
	Note    string    `json:"note,omitempty"`
}

// Transition is one state change of a consultation (see parley.ConsultState), applied
// by Store.Transition.
type Transition struct {
	AppID, ID string
	// From lists the states the consultation must be in.
	From []parley.ConsultState
	To   parley.ConsultState
	// Agent, with To StateAssigned, is the agent who takes it (it may not
	// be its current agent).
	Agent string
	// Team, if not nil, becomes the consultation's team.
	Team *string
	// By is who made the change (an agent, or parley.SystemUserID) and
	// Note an optional remark (a transfer's), both kept in the events.
	By, Note string
	// At is the time of the change, Unix ms.
	At int64
	// IfDue, when not 0, makes the change conditional on the
	// consultation's ResolveDue still being IfDue (an automatic
	// resolution loses to a user message that came in between).
	IfDue int64
	// Cursor, when not "", is stored as the queue's Cursor with the
	// assignment (the even strategy's position).
	Cursor string
}

// MessageEvent is a message of a consultation thread that the service
// records: the user's, or an agent's.
type MessageEvent struct {
	AppID, Consult string
	Sender         string
	FromAgent      bool
	At             int64
	// ResolveAfter (ms), for an agent's message in an assigned
	// consultation, sets ResolveDue to At + ResolveAfter (0 leaves it
	// unset).
	ResolveAfter int64
}

// Filter selects consultations of an app; empty fields select all.
type Filter struct {
	Shop, User, Agent string
	States            []parley.ConsultState
	Limit             int // at most parley.MaxConsultsListed; 0 means that
}

// Store keeps shops, queues, agents, consultations and their events. It
// also owns the part of a thread conversation's membership that
// consultations decide: the user is a member from the first Open, and an
// agent exactly while a consultation of the thread is assigned to them.
// Every implementation must pass consulttest.RunStoreTests, the
// executable form of these comments. All times are Unix milliseconds.
//
// Concurrency contract: Transition is the only way a consultation's state
// or agent changes, and it is conditional (From, IfDue, the agent's
// capacity) inside one transaction, so concurrent callers on any number
// of nodes can never assign a consultation twice or take an agent past
// MaxLoad: the loser gets EConflict and re-reads.
type Store interface {
	// PutShop creates or replaces a shop's settings.
	PutShop(ctx context.Context, s *parley.Shop) error
	// Shop returns a shop. ENotFound if there is none.
	Shop(ctx context.Context, appID, id string) (*parley.Shop, error)
	// PutQueue creates or replaces a queue (its Cursor is kept).
	// ENotFound if its shop does not exist.
	PutQueue(ctx context.Context, q *parley.ConsultQueue) error
	// Queue returns a queue. ENotFound if there is none.
	Queue(ctx context.Context, appID, id string) (*parley.ConsultQueue, error)
	// Queues returns the queues of a shop ("" every shop), by id.
	Queues(ctx context.Context, appID, shop string) ([]parley.ConsultQueue, error)

	// PutAgent creates or updates an agent's profile (shop, name, teams,
	// weight, max load, supervisor). A new agent gets a.Status and load
	// 0; an existing one keeps its status and load. ENotFound if the shop
	// or the user does not exist. a is updated to the stored agent.
	PutAgent(ctx context.Context, a *parley.Agent) error
	// Agent returns an agent. ENotFound if there is none.
	Agent(ctx context.Context, appID, id string) (*parley.Agent, error)
	// Agents returns the agents of a shop ("" every shop), by id, with
	// their current load.
	Agents(ctx context.Context, appID, shop string) ([]parley.Agent, error)
	// SetAgentStatus sets an agent's status and returns the agent.
	// ENotFound if there is no such agent.
	SetAgentStatus(ctx context.Context, appID, id string, st parley.AgentStatus) (*parley.Agent, error)

	// Open makes sure the thread conversation c.Conv (kind
	// parley.ConvConsult) exists with c.User as a member, then, if the
	// thread has an open consultation (initial, pending or assigned),
	// overwrites c with it and returns false; otherwise stores c (its
	// State must be initial or pending, with PendingAt set for pending)
	// with an EvOpened event (and EvPending for pending), and returns
	// true. A thread never has two open consultations, whatever the
	// concurrency.
	Open(ctx context.Context, c *parley.Consultation) (bool, error)
	// Consult returns a consultation. ENotFound if there is none.
	Consult(ctx context.Context, appID, id string) (*parley.Consultation, error)
	// Current returns the thread's open consultation, or else its most
	// recently opened one. ENotFound if the thread has none.
	Current(ctx context.Context, appID, conv string) (*parley.Consultation, error)
	// Consults returns the consultations f selects, oldest opened first.
	Consults(ctx context.Context, appID string, f Filter) ([]parley.Consultation, error)
	// Waiting returns up to limit pending consultations of a queue in
	// the order they are served: by PendingAt, then ID.
	Waiting(ctx context.Context, appID, queue string, limit int) ([]parley.Consultation, error)
	// Transition applies t in one transaction and returns the
	// consultation after it. It fails with ENotFound if there is no such
	// consultation, and with EConflict, changing nothing, if its state is
	// not in t.From, if t.IfDue is set and ResolveDue differs, or, for an
	// assignment, if the agent is not an online agent of the
	// consultation's shop with Load < MaxLoad.
	//
	// Effects: to StateAssigned with a new agent, the agent's load grows
	// by one and the agent becomes a member of the thread (read cursor at
	// the thread's last seq, so the history is there without counting as
	// unread), AssignedAt is set, and an EvAssigned event is written (and
	// EvTransferred if another agent held it). Whenever an agent stops
	// holding it (another agent, back to pending, resolved), that agent's
	// load drops by one, the agent stops being a member, and EvReleased is
	// written. To StatePending from initial sets PendingAt (EvPending);
	// from assigned it clears Agent and keeps PendingAt (EvRequeued, with
	// EvTransferred). To StateResolved sets ResolvedAt and ResolvedBy and
	// keeps Agent as the last agent who served (EvResolved). Any change
	// of state or agent clears ResolveDue.
	Transition(ctx context.Context, t Transition) (*parley.Consultation, error)
	// RecordMessage writes an EvUserMsg or EvAgentMsg event for an open
	// consultation and returns it after the change: a user's message
	// clears ResolveDue; an agent's sets FirstReplyAt if it is not set
	// and, when the consultation is assigned and ResolveAfter > 0,
	// ResolveDue to At + ResolveAfter. ENotFound if there is no such
	// consultation, EConflict if it is resolved.
	RecordMessage(ctx context.Context, m MessageEvent) (*parley.Consultation, error)
	// DueForResolve returns up to limit assigned consultations, of any
	// app, whose ResolveDue is in (0, now], earliest first.
	DueForResolve(ctx context.Context, now int64, limit int) ([]parley.Consultation, error)
	// LastAgent returns the agent who served the user's most recent
	// consultation of shop that had one, other than consultation
	// exclude; "" if none.
	LastAgent(ctx context.Context, appID, shop, user, exclude string) (string, error)
	// Watchers returns the agents who serve the user now (assigned open
	// consultations) and those of the user's recent most recently
	// resolved consultations, each once, in no particular order.
	Watchers(ctx context.Context, appID, user string, recent int) ([]string, error)
	// Rate stores the user's rating of a resolved consultation (EvRated)
	// and returns it. EForbidden if user is not its user, EConflict if it
	// is not resolved or was rated already, ENotFound if there is none.
	Rate(ctx context.Context, appID, id, user string, score int, comment string, at int64) (*parley.Consultation, error)
	// Events returns an app's events with from <= At < to, ordered by
	// At, then ID.
	Events(ctx context.Context, appID string, from, to int64) ([]Event, error)
	// AgentLoadsAt returns, for every agent with an EvAssigned or
	// EvReleased event before t, the Load of the last such event: the
	// agent's load at t.
	AgentLoadsAt(ctx context.Context, appID string, t int64) (map[string]int, error)
	// Members returns the member ids of a conversation in ascending order
	// (parley.ConvStore's Members). ENotFound if it does not exist.
	Members(ctx context.Context, appID, convID string) ([]string, error)
}
