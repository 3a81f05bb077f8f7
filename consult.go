package parley

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// ConvConsult is the kind of a consultation thread: the conversation
// between one user and one shop (customer service, internal/consult). Its
// members are the user and the agents serving the user's open
// consultation at the moment; messages in it are stored and synced like
// any conversation's, and every consultation of the pair, the old ones
// included, lives in the same thread.
const ConvConsult ConvKind = "consult"

// ConsultConvID returns the thread id of user and shop in an app:
// "c:<shop>:<user>". Both are ids (ValidID), which never hold ':', so the
// id splits back (ConsultPeers).
func ConsultConvID(shop, user string) string { return "c:" + shop + ":" + user }

// ConsultPeers returns the shop and the user of a consultation thread id,
// and false when convID is not "c:<shop>:<user>" with two valid ids.
func ConsultPeers(convID string) (shop, user string, ok bool) {
	rest, found := strings.CutPrefix(convID, "c:")
	if !found {
		return "", "", false
	}
	shop, user, found = strings.Cut(rest, ":")
	if !found || !ValidID(shop) || !ValidID(user) {
		return "", "", false
	}
	return shop, user, true
}

// ConsultState is where a consultation is in its life:
//
//	initial  -> pending   the user sent the first message (or opened with one)
//	pending  -> assigned  an agent took it (strategy, manual, hook)
//	assigned -> assigned  transferred to another agent
//	assigned -> pending   transferred to a team: it waits again, in its place
//	pending, assigned -> resolved  by an agent, a supervisor, the backend,
//	                      or automatically after the user's silence
//	initial  -> resolved  abandoned (the backend closes it)
//
// A resolved consultation never changes state again; the user's next
// message opens a new one in the same thread.
type ConsultState string

// States.
const (
	ConsultInitial  ConsultState = "initial"
	ConsultPending  ConsultState = "pending"
	ConsultAssigned ConsultState = "assigned"
	ConsultResolved ConsultState = "resolved"
)

// Open reports whether s is a state of a consultation still going on.
func (s ConsultState) Open() bool {
	return s == ConsultInitial || s == ConsultPending || s == ConsultAssigned
}

// AgentStatus is an agent's availability. Only online agents get new
// consultations; away and offline agents keep the ones they have.
type AgentStatus string

// Statuses.
const (
	AgentOnline  AgentStatus = "online"
	AgentAway    AgentStatus = "away"
	AgentOffline AgentStatus = "offline"
)

// Valid reports whether s is one of the statuses.
func (s AgentStatus) Valid() bool { return s == AgentOnline || s == AgentAway || s == AgentOffline }

// AssignStrategy is how a queue picks an agent (internal/consult/assign.go and docs/protocol.md define each exactly).
type AssignStrategy string

// Strategies.
const (
	StrategyEven        AssignStrategy = "even"         // round-robin over available agents, in id order
	StrategyLeastLoaded AssignStrategy = "least_loaded" // fewest open consultations
	StrategyWeighted    AssignStrategy = "weighted"     // highest weight x free capacity
	StrategySticky      AssignStrategy = "sticky"       // the agent who served the user last, else least loaded
)

// Valid reports whether s is one of the strategies.
func (s AssignStrategy) Valid() bool {
	return s == StrategyEven || s == StrategyLeastLoaded || s == StrategyWeighted || s == StrategySticky
}

// Consultation is one consultation: a user asking a shop, from the
// user's first click to its resolution. Times are Unix milliseconds of
// the service's clock; 0 means not yet.
type Consultation struct {
	AppID string `json:"-"`
	ID    string `json:"id"`
	Shop  string `json:"shop"`
	User  string `json:"user"`
	// Conv is the thread, ConsultConvID(Shop, User).
	Conv  string `json:"conv"`
	Queue string `json:"queue"`
	// Team narrows the agents who may take it (a transfer to a team);
	// "" is the queue's own team.
	Team  string       `json:"team,omitempty"`
	State ConsultState `json:"state"`
	Agent string       `json:"agent,omitempty"`
	// Entry and Context say where the user clicked "consult" (a product,
	// an order) as the business line describes it.
	Entry      string          `json:"entry,omitempty"`
	Context    json.RawMessage `json:"context,omitempty"`
	OpenedAt   int64           `json:"opened_at"`
	PendingAt  int64           `json:"pending_at,omitempty"` // the user's first message; the waiting order
	AssignedAt int64           `json:"assigned_at,omitempty"`
	// FirstReplyAt is the first agent message after PendingAt.
	FirstReplyAt int64  `json:"first_reply_at,omitempty"`
	ResolvedAt   int64  `json:"resolved_at,omitempty"`
	ResolvedBy   string `json:"resolved_by,omitempty"` // an agent, or SystemUserID (automatic, backend)
	// ResolveDue is when it resolves by itself if the user stays silent
	// (the last agent message plus the shop's AutoResolve); 0 when not
	// due (no agent message since the user's last one).
	ResolveDue int64  `json:"resolve_due,omitempty"`
	Rating     int    `json:"rating,omitempty"`
	Comment    string `json:"comment,omitempty"`
}

// Agent is a user of the app who serves a shop's consultations.
type Agent struct {
	AppID string `json:"-"`
	ID    string `json:"id"`
	Shop  string `json:"shop"`
	Name  string `json:"name,omitempty"`
	// Teams are the teams and skills the agent belongs to; queues and
	// transfers name them.
	Teams []string `json:"teams,omitempty"`
	// Weight (1-100) counts in the weighted strategy.
	Weight int `json:"weight"`
	// MaxLoad (1-100) is the most open consultations the agent holds at
	// once; no assignment ever takes them past it.
	MaxLoad int `json:"max_load"`
	// Supervisor agents see the live view, watch consultations, take them
	// over and reassign them.
	Supervisor bool        `json:"supervisor,omitempty"`
	Status     AgentStatus `json:"status"`
	// Load is how many open consultations are assigned to the agent now
	// (kept by the store).
	Load int `json:"load"`
}

// InTeam reports whether the agent belongs to team ("" is every team).
func (a *Agent) InTeam(team string) bool { return team == "" || slices.Contains(a.Teams, team) }

// Available reports whether the agent may take one more consultation.
func (a *Agent) Available() bool { return a.Status == AgentOnline && a.Load < a.MaxLoad }

// ConsultQueue is a shop's waiting line and how it assigns. A shop's default
// queue has the shop's id; without a stored one it is least-loaded over
// every agent of the shop.
type ConsultQueue struct {
	AppID    string         `json:"-"`
	ID       string         `json:"id"`
	Shop     string         `json:"shop"`
	Strategy AssignStrategy `json:"strategy"`
	// Team limits the queue to the agents of a team ("" every agent of
	// the shop).
	Team string `json:"team,omitempty"`
	// Hook, if set, is an http(s) URL asked to pick the agent (docs/protocol.md, "Routing hook");
	// when it fails or picks nobody available, Strategy decides.
	Hook string `json:"hook,omitempty"`
	// Cursor is the last agent the even strategy picked (kept by the
	// store).
	Cursor string `json:"-"`
}

// Shop is a merchant's customer-service settings.
type Shop struct {
	AppID string `json:"-"`
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	// AutoResolve is how long the user may stay silent after an agent's
	// message before the consultation resolves by itself (0: never).
	AutoResolveSeconds int64 `json:"auto_resolve_seconds,omitempty"`
	// Greeting is sent (from "_system") when an agent is assigned.
	Greeting string `json:"greeting,omitempty"`
	// Hours are the shop's opening hours; outside them the user's first
	// message gets OffHoursReply (the consultation still waits).
	Hours         *ShopHours `json:"hours,omitempty"`
	OffHoursReply string     `json:"off_hours_reply,omitempty"`
	// FAQ answers a user's message that holds one of an entry's keywords,
	// while the consultation waits and while it is served.
	FAQ []FAQEntry `json:"faq,omitempty"`
	// Canned are replies agents pick from.
	Canned []CannedReply `json:"canned,omitempty"`
}

// ShopHours is a week of opening hours in a fixed UTC offset.
type ShopHours struct {
	UTCOffsetMinutes int           `json:"utc_offset_minutes"`
	Open             []HoursWindow `json:"open"`
}

// HoursWindow is one opening interval: Day (0 Sunday .. 6 Saturday), From and
// To as "HH:MM" local time, From < To.
type HoursWindow struct {
	Day  int    `json:"day"`
	From string `json:"from"`
	To   string `json:"to"`
}

// FAQEntry is one knowledge-base answer and the keywords that call it.
type FAQEntry struct {
	Keywords []string `json:"keywords"`
	Answer   string   `json:"answer"`
}

// CannedReply is a prepared reply.
type CannedReply struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// Limits on what business backends and clients set.
const (
	MaxShopNameLen        = 128
	MaxShopTextLen        = 2048 // greeting, off-hours reply, FAQ answer, canned reply
	MaxFAQEntries         = 200
	MaxFAQKeywords        = 20
	MaxFAQKeywordLen      = 64
	MaxCannedReplies      = 200
	MaxHoursWindows       = 70
	MaxAgentTeams         = 20
	MaxConsultEntryLen    = 64
	MaxConsultContextLen  = 4096
	MaxTransferNoteLen    = 512
	MaxRatingCommentLen   = 1024
	MaxHookURLLen         = 1024
	MaxAgentWeight        = 100
	MaxAgentLoadLimit     = 100
	MaxAutoResolveSeconds = 7 * 24 * 3600
	DefaultAgentMaxLoad   = 5
	MaxConsultsListed     = 500 // consultations in one listing
)

func textError(field string, s string, max int) error {
	if len(s) > max {
		return Errorf(ETooLarge, "%s longer than %d bytes", field, max)
	}
	if !utf8.ValidString(s) {
		return Errorf(EInvalid, "%s is not valid UTF-8", field)
	}
	return nil
}

// Validate checks a shop from a business backend: EInvalid or ETooLarge.
func (s *Shop) Validate() error {
	if !ValidID(s.ID) {
		return Errorf(EInvalid, "shop id must be 1-%d characters of [A-Za-z0-9_.@-]", MaxIDLen)
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"name", s.Name, MaxShopNameLen}, {"greeting", s.Greeting, MaxShopTextLen}, {"off_hours_reply", s.OffHoursReply, MaxShopTextLen}} {
		if err := textError(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	if s.AutoResolveSeconds < 0 || s.AutoResolveSeconds > MaxAutoResolveSeconds {
		return Errorf(EInvalid, "auto_resolve_seconds must be 0-%d", MaxAutoResolveSeconds)
	}
	if h := s.Hours; h != nil {
		if h.UTCOffsetMinutes < -14*60 || h.UTCOffsetMinutes > 14*60 {
			return Errorf(EInvalid, "utc_offset_minutes must be -840 to 840")
		}
		if len(h.Open) > MaxHoursWindows {
			return Errorf(ETooLarge, "at most %d opening windows", MaxHoursWindows)
		}
		for _, w := range h.Open {
			from, err1 := hoursMinutes(w.From)
			to, err2 := hoursMinutes(w.To)
			if w.Day < 0 || w.Day > 6 || err1 != nil || err2 != nil || from >= to {
				return Errorf(EInvalid, `an opening window is {"day": 0-6, "from": "HH:MM", "to": "HH:MM"} with from before to`)
			}
		}
	}
	if len(s.FAQ) > MaxFAQEntries {
		return Errorf(ETooLarge, "at most %d FAQ entries", MaxFAQEntries)
	}
	for _, f := range s.FAQ {
		if len(f.Keywords) == 0 || len(f.Keywords) > MaxFAQKeywords {
			return Errorf(EInvalid, "a FAQ entry needs 1-%d keywords", MaxFAQKeywords)
		}
		for _, k := range f.Keywords {
			if strings.TrimSpace(k) == "" {
				return Errorf(EInvalid, "a FAQ keyword must not be empty")
			}
			if err := textError("FAQ keyword", k, MaxFAQKeywordLen); err != nil {
				return err
			}
		}
		if f.Answer == "" {
			return Errorf(EInvalid, "a FAQ entry needs an answer")
		}
		if err := textError("FAQ answer", f.Answer, MaxShopTextLen); err != nil {
			return err
		}
	}
	if len(s.Canned) > MaxCannedReplies {
		return Errorf(ETooLarge, "at most %d canned replies", MaxCannedReplies)
	}
	for _, c := range s.Canned {
		if !ValidID(c.ID) || c.Text == "" {
			return Errorf(EInvalid, "a canned reply needs an id and a text")
		}
		if err := textError("canned reply", c.Text, MaxShopTextLen); err != nil {
			return err
		}
	}
	return nil
}

// hoursMinutes parses "HH:MM" (00:00 to 24:00) into minutes.
func hoursMinutes(s string) (int, error) {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("not HH:MM")
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &h, &m); err != nil {
		return 0, err
	}
	if h < 0 || m < 0 || m > 59 || h*60+m > 24*60 {
		return 0, fmt.Errorf("out of range")
	}
	return h*60 + m, nil
}

// OpenAt reports whether the shop is open at t: always without Hours.
func (s *Shop) OpenAt(t time.Time) bool {
	if s.Hours == nil {
		return true
	}
	local := t.UTC().Add(time.Duration(s.Hours.UTCOffsetMinutes) * time.Minute)
	day, mins := int(local.Weekday()), local.Hour()*60+local.Minute()
	for _, w := range s.Hours.Open {
		from, _ := hoursMinutes(w.From)
		to, _ := hoursMinutes(w.To)
		if w.Day == day && mins >= from && mins < to {
			return true
		}
	}
	return false
}

// Validate checks a queue from a business backend: EInvalid or ETooLarge.
func (q *ConsultQueue) Validate() error {
	if !ValidID(q.ID) || !ValidID(q.Shop) {
		return Errorf(EInvalid, "a queue needs an id and a shop (ids of 1-%d characters of [A-Za-z0-9_.@-])", MaxIDLen)
	}
	if !q.Strategy.Valid() {
		return Errorf(EInvalid, "strategy must be even, least_loaded, weighted or sticky")
	}
	if q.Team != "" && !ValidID(q.Team) {
		return Errorf(EInvalid, "team must be an id")
	}
	if len(q.Hook) > MaxHookURLLen {
		return Errorf(ETooLarge, "hook longer than %d bytes", MaxHookURLLen)
	}
	if q.Hook != "" && !strings.HasPrefix(q.Hook, "http://") && !strings.HasPrefix(q.Hook, "https://") {
		return Errorf(EInvalid, "hook must be an http or https URL")
	}
	return nil
}

// Validate checks an agent profile from a business backend and fills
// the defaults (weight 1, max load DefaultAgentMaxLoad, status offline):
// EInvalid or ETooLarge.
func (a *Agent) Validate() error {
	if !ValidID(a.ID) || !ValidID(a.Shop) {
		return Errorf(EInvalid, "an agent needs a user id and a shop")
	}
	if err := textError("name", a.Name, MaxShopNameLen); err != nil {
		return err
	}
	if len(a.Teams) > MaxAgentTeams {
		return Errorf(ETooLarge, "at most %d teams", MaxAgentTeams)
	}
	for _, t := range a.Teams {
		if !ValidID(t) {
			return Errorf(EInvalid, "teams must be ids")
		}
	}
	if a.Weight == 0 {
		a.Weight = 1
	}
	if a.MaxLoad == 0 {
		a.MaxLoad = DefaultAgentMaxLoad
	}
	if a.Status == "" {
		a.Status = AgentOffline
	}
	if a.Weight < 1 || a.Weight > MaxAgentWeight || a.MaxLoad < 1 || a.MaxLoad > MaxAgentLoadLimit {
		return Errorf(EInvalid, "weight must be 1-%d and max_load 1-%d", MaxAgentWeight, MaxAgentLoadLimit)
	}
	if !a.Status.Valid() {
		return Errorf(EInvalid, "status must be online, away or offline")
	}
	return nil
}

// ValidateConsultContext checks what a consult entry carries.
func ValidateConsultContext(entry string, ctx json.RawMessage) error {
	if len(entry) > MaxConsultEntryLen {
		return Errorf(ETooLarge, "entry longer than %d bytes", MaxConsultEntryLen)
	}
	if entry != "" && !ValidID(entry) {
		return Errorf(EInvalid, "entry must be an id such as product or order")
	}
	if len(ctx) > MaxConsultContextLen {
		return Errorf(ETooLarge, "context larger than %d bytes", MaxConsultContextLen)
	}
	if len(ctx) > 0 {
		var v map[string]any
		if !utf8.Valid(ctx) || json.Unmarshal(ctx, &v) != nil || v == nil {
			return Errorf(EInvalid, "context must be a JSON object")
		}
	}
	return nil
}

// ConsultEventBody is the body of the system message (sender
// SystemUserID, kind KindSystem) that records a consultation's
// transition in its thread.
type ConsultEventBody struct {
	// Event is "opened", "pending", "assigned", "transferred", "requeued"
	// or "resolved".
	Event   string       `json:"event"`
	Consult string       `json:"consult"`
	State   ConsultState `json:"state"`
	Shop    string       `json:"shop"`
	// Agent serves it now (assigned, transferred) or served it last
	// (resolved); From is the agent a transfer took it from.
	Agent string `json:"agent,omitempty"`
	From  string `json:"from,omitempty"`
	Team  string `json:"team,omitempty"`
	// By is who did it: an agent, or SystemUserID (a strategy, the
	// backend, the automatic resolution).
	By      string          `json:"by,omitempty"`
	Note    string          `json:"note,omitempty"`
	Entry   string          `json:"entry,omitempty"`
	Context json.RawMessage `json:"context,omitempty"`
}

// ValidateNote checks a transfer's note: ETooLarge past
// MaxTransferNoteLen, EInvalid for text that is not UTF-8.
func ValidateNote(note string) error { return textError("note", note, MaxTransferNoteLen) }

// ValidateRating checks a satisfaction rating: a score of 1 to 5 and a
// comment of at most MaxRatingCommentLen bytes of UTF-8.
func ValidateRating(score int, comment string) error {
	if score < 1 || score > 5 {
		return Errorf(EInvalid, "score must be 1-5")
	}
	return textError("comment", comment, MaxRatingCommentLen)
}
