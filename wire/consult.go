package wire

import (
	"encoding/json"

	"github.com/parley-im/parley"
)

// Customer-service frame types (docs/protocol.md, "Customer service").
// Each is a request answered by res or err.
const (
	TConsultOpen     = "consult_open"     // Shop, Queue (optional), Entry, Context: open (or get) the consultation with a shop
	TConsultInfo     = "consult_info"     // Consult: a consultation and, while it waits, its position
	TConsultStatus   = "consult_status"   // Status: an agent sets their own status
	TConsultResolve  = "consult_resolve"  // Consult: the agent serving it, or a supervisor, resolves it
	TConsultTransfer = "consult_transfer" // Consult, Agent or Team, Note: transfer, manual assignment, take-over
	TConsultRate     = "consult_rate"     // Consult, Score (1-5), Comment: the user rates a resolved consultation
	TConsultCanned   = "consult_canned"   // the canned replies of the agent's shop
	TConsultView     = "consult_view"     // supervisor: the shop's queues, agents and open consultations
	TConsultWatch    = "consult_watch"    // supervisor: Consult, After, Limit, Live: read a consultation's thread, and with Live go on receiving it
	TConsultUnwatch  = "consult_unwatch"  // supervisor: Consult: stop receiving a thread watched live
)

// TConsultRx is the push of a consultation's change (ConsultPush): not
// numbered, not acknowledged; consult_info tells the same.
const TConsultRx = "consult"

// ConsultFields are the fields of the consult frames, embedded in In.
type ConsultFields struct {
	Shop    string          `json:"shop,omitempty"`
	Queue   string          `json:"queue,omitempty"`
	Entry   string          `json:"entry,omitempty"`
	Context json.RawMessage `json:"context,omitempty"`
	Consult string          `json:"consult,omitempty"`
	Agent   string          `json:"agent,omitempty"`
	Team    string          `json:"team,omitempty"`
	Note    string          `json:"note,omitempty"`
	Status  string          `json:"status,omitempty"`
	Score   int             `json:"score,omitempty"`
	Comment string          `json:"comment,omitempty"`
	// Live, on consult_watch, also starts pushing the thread's new
	// messages to the session (consult_msg) until consult_unwatch or
	// the session ends.
	Live bool `json:"live,omitempty"`
}

// validateConsult checks a consult frame (Validate calls it). Errors are
// EInvalid, or ETooLarge for a field over its limit.
func (in *In) validateConsult() error {
	id := func(v, what string) error {
		if !parley.ValidID(v) {
			return parley.Errorf(parley.EInvalid, "%s needs %s", in.Type, what)
		}
		return nil
	}
	switch in.Type {
	case TConsultOpen:
		if err := id(in.Shop, "a shop id"); err != nil {
			return err
		}
		if in.Queue != "" && !parley.ValidID(in.Queue) {
			return parley.Errorf(parley.EInvalid, "queue must be a queue id")
		}
		return parley.ValidateConsultContext(in.Entry, in.Context)
	case TConsultStatus:
		if !parley.AgentStatus(in.Status).Valid() {
			return parley.Errorf(parley.EInvalid, "status must be online, away or offline")
		}
	case TConsultInfo, TConsultResolve, TConsultWatch, TConsultUnwatch:
		return id(in.Consult, "a consultation id")
	case TConsultTransfer:
		if err := id(in.Consult, "a consultation id"); err != nil {
			return err
		}
		if (in.Agent == "") == (in.Team == "") {
			return parley.Errorf(parley.EInvalid, "consult_transfer needs exactly one of agent and team")
		}
		if in.Agent != "" && !parley.ValidID(in.Agent) || in.Team != "" && !parley.ValidID(in.Team) {
			return parley.Errorf(parley.EInvalid, "agent and team must be ids")
		}
		return parley.ValidateNote(in.Note)
	case TConsultRate:
		if err := id(in.Consult, "a consultation id"); err != nil {
			return err
		}
		return parley.ValidateRating(in.Score, in.Comment)
	case TConsultView:
		if in.Shop != "" && !parley.ValidID(in.Shop) {
			return parley.Errorf(parley.EInvalid, "shop must be a shop id")
		}
	}
	return nil
}

// ConsultRes answers consult_open, consult_info, consult_resolve,
// consult_transfer and consult_rate: the consultation and, while it
// waits, its place in the line (1: next).
type ConsultRes struct {
	Consult  *parley.Consultation `json:"consult"`
	Position int                  `json:"position,omitempty"`
}

// AgentRes answers consult_status.
type AgentRes struct {
	Agent *parley.Agent `json:"agent"`
}

// CannedRes answers consult_canned.
type CannedRes struct {
	Canned []parley.CannedReply `json:"canned"`
}

// QueueView is a queue in the supervisor's view: its settings and how
// many consultations wait in it.
type QueueView struct {
	Queue   parley.ConsultQueue `json:"queue"`
	Waiting int                 `json:"waiting"`
}

// ConsultViewRes answers consult_view: a shop's queues, agents (with
// status and load) and open consultations, oldest first.
type ConsultViewRes struct {
	Queues   []QueueView           `json:"queues"`
	Agents   []parley.Agent        `json:"agents"`
	Consults []parley.Consultation `json:"consults"`
}

// ConsultPush is the consult push: Event names the change ("opened",
// "pending", "waiting" with Position, "assigned", "transferred" (to an
// agent, or back to the line for a team), "resolved", "rated", "status"
// with Agent), Consult is the consultation after it.
type ConsultPush struct {
	Type     string               `json:"type"`
	Event    string               `json:"event"`
	Consult  *parley.Consultation `json:"consult,omitempty"`
	Position int                  `json:"position,omitempty"`
	Agent    *parley.Agent        `json:"agent,omitempty"`
}

// ConsultFrame encodes a consult push.
func ConsultFrame(p ConsultPush) []byte {
	p.Type = TConsultRx
	b, _ := json.Marshal(p)
	return b
}
