package wire

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/parley-im/parley"
)

// In is a decoded client frame. It is flat: each type uses the fields its
// comment lists and ignores the others.
type In struct {
	Type string `json:"type"`
	// ID is the request id, echoed in the res or err frame that answers
	// the request. Optional for ping and ack, which get no res.
	ID string `json:"id,omitempty"`

	// auth
	Token    string `json:"token,omitempty"`
	Device   string `json:"device,omitempty"`
	Platform string `json:"platform,omitempty"`

	// send: To (peer user id) or Conv, CMID (client message id), Kind, Body
	To   string          `json:"to,omitempty"`
	Conv string          `json:"conv,omitempty"`
	CMID string          `json:"cmid,omitempty"`
	Kind string          `json:"kind,omitempty"`
	Body json.RawMessage `json:"body,omitempty"`

	// ack: the n of each push acknowledged
	N []uint64 `json:"n,omitempty"`

	// sync: Since, Limit. pull: Conv, After, Before, Limit, Newest.
	// read: Conv, Seq. typing: Conv. convs: Before (a ver), Limit. search: Q, Conv
	// (optional), Before (the next of the previous page), Limit.
	Q      string `json:"q,omitempty"`
	Since  uint64 `json:"since,omitempty"`
	After  uint64 `json:"after,omitempty"`
	Before uint64 `json:"before,omitempty"`
	Newest bool   `json:"newest,omitempty"`
	Limit  int    `json:"limit,omitempty"`
	Seq    uint64 `json:"seq,omitempty"`

	// group_* and read_receipts (group.go).
	GroupFields

	// contacts_add: Users, Alias (optional, only with one user).
	// contacts_remove and presence: Users. contacts and profiles: Since,
	// Limit. (social.go)
	Users []string `json:"users,omitempty"`
	Alias string   `json:"alias,omitempty"`

	// conv_set: Conv, Settings (convsettings.go).
	Settings *parley.ConvSettings `json:"settings,omitempty"`

	// consult_* (consult.go).
	ConsultFields
}

// Decode parses and validates one client frame. Every error is a
// *parley.Error: ETooLarge for a frame over MaxFrameSize or a field over
// its limit, EBadFrame for anything that is not a JSON object with a known
// type, EInvalid for a field that fails validation. When the frame parsed
// but failed validation, the returned In is not nil so that the error can
// echo its ID; its other fields must not be used.
func Decode(b []byte) (*In, error) {
	if len(b) > MaxFrameSize {
		return nil, parley.Errorf(parley.ETooLarge, "frame larger than %d bytes", MaxFrameSize)
	}
	// encoding/json would quietly replace invalid UTF-8 in strings but
	// keep it in raw bodies, which would then break every recipient's
	// WebSocket (text frames must be UTF-8). Refuse it whole.
	if !utf8.Valid(b) {
		return nil, parley.Errorf(parley.EBadFrame, "frame is not valid UTF-8")
	}
	var in In
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, parley.Errorf(parley.EBadFrame, "frame is not a JSON object of the protocol")
	}
	if err := in.Validate(); err != nil {
		return &in, err
	}
	return &in, nil
}

// Validate checks in's fields against the limits of its Type, as Decode
// does. It may fill defaults (an empty send kind becomes text).
func (in *In) Validate() error {
	if len(in.ID) > MaxRequestIDLen {
		return parley.Errorf(parley.EInvalid, "id longer than %d bytes", MaxRequestIDLen)
	}
	if in.Limit < 0 || in.Limit > MaxLimit {
		return parley.Errorf(parley.EInvalid, "limit must be 0-%d", MaxLimit)
	}
	switch in.Type {
	case TAuth:
		if in.Token == "" || len(in.Token) > MaxTokenLen {
			return parley.Errorf(parley.EInvalid, "auth needs a token of at most %d bytes", MaxTokenLen)
		}
		if !parley.ValidID(in.Device) {
			return parley.Errorf(parley.EInvalid, "auth needs a device id of 1-%d characters of [A-Za-z0-9_.@-]", parley.MaxIDLen)
		}
		if !parley.Platform(in.Platform).Valid() {
			return parley.Errorf(parley.EInvalid, "platform must be web, pc, h5, ios or android")
		}
	case TPing:
	case TSend:
		if (in.To == "") == (in.Conv == "") {
			return parley.Errorf(parley.EInvalid, "send needs exactly one of to and conv")
		}
		if in.To != "" && !parley.ValidID(in.To) {
			return parley.Errorf(parley.EInvalid, "to is not a valid user id")
		}
		if len(in.Conv) > parley.MaxConvIDLen {
			return parley.Errorf(parley.EInvalid, "conv longer than %d bytes", parley.MaxConvIDLen)
		}
		if !parley.ValidClientMsgID(in.CMID) {
			return parley.Errorf(parley.EInvalid, "cmid must be at most %d characters of [A-Za-z0-9_.@:-]", parley.MaxClientMsgIDLen)
		}
		if in.Kind == "" {
			in.Kind = string(parley.KindText)
		}
		if err := parley.ValidateBody(parley.Kind(in.Kind), in.Body, true); err != nil {
			return err
		}
	case TAck:
		if len(in.N) == 0 || len(in.N) > MaxAcks {
			return parley.Errorf(parley.EInvalid, "ack needs 1-%d values of n", MaxAcks)
		}
	case TSync, TConvs:
	case TPull, TRead:
		if in.Conv == "" {
			return parley.Errorf(parley.EInvalid, "%s needs a conv", in.Type)
		}
		if len(in.Conv) > parley.MaxConvIDLen {
			return parley.Errorf(parley.EInvalid, "conv longer than %d bytes", parley.MaxConvIDLen)
		}
	case TSearch:
		if err := in.SearchQuery().Validate(); err != nil {
			return err
		}
	case TContactsAdd, TContactsRemove, TContacts, TProfiles, TPresence:
		return in.validateSocial()
	case TTyping:
		return in.validateTyping()
	case TConvSet:
		return in.validateConvSet()
	case TConsultOpen, TConsultInfo, TConsultStatus, TConsultResolve, TConsultTransfer, TConsultRate,
		TConsultCanned, TConsultView, TConsultWatch, TConsultUnwatch:
		return in.validateConsult()
	case TGroupCreate, TGroupInfo, TGroupUpdate, TGroupMembers, TGroupAdd, TGroupRemove, TGroupLeave,
		TGroupRole, TGroupTransfer, TGroupMute, TGroupMuteAll, TGroupDissolve, TReadReceipts:
		return in.validateGroup()
	case "":
		return parley.Errorf(parley.EBadFrame, "frame has no type")
	default:
		return parley.Errorf(parley.EBadFrame, "unknown frame type")
	}
	return nil
}

// LimitOr returns in.Limit, or def when the client left it 0.
func (in *In) LimitOr(def int) int {
	if in.Limit == 0 {
		return def
	}
	return in.Limit
}

// SearchQuery returns the query of a search frame.
func (in *In) SearchQuery() parley.SearchQuery {
	return parley.SearchQuery{Text: in.Q, ConvID: in.Conv, Before: in.Before, Limit: in.Limit}
}
