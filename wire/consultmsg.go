package wire

import (
	"encoding/json"

	"github.com/parley-im/parley"
)

// TConsultMsgRx is the push of a new message in a consultation thread
// that the session watches live (consult_watch with Live): not numbered,
// not acknowledged; consult_watch with After tells the same.
const TConsultMsgRx = "consult_msg"

// ConsultMsgPush is the consult_msg push: Conv is the thread, Msg the
// message as stored (every variant included).
type ConsultMsgPush struct {
	Type string          `json:"type"`
	Conv string          `json:"conv"`
	Msg  *parley.Message `json:"msg"`
}

// ConsultMsgFrame encodes the consult_msg push of m.
func ConsultMsgFrame(m *parley.Message) []byte {
	b, _ := json.Marshal(ConsultMsgPush{Type: TConsultMsgRx, Conv: m.ConvID, Msg: m})
	return b
}

// ConsultMsgConv returns the thread of a consult_msg frame, "" if the
// frame is not one. It costs one pass over the frame.
func ConsultMsgConv(frame []byte) string {
	var f struct {
		Type string `json:"type"`
		Conv string `json:"conv"`
	}
	if json.Unmarshal(frame, &f) != nil || f.Type != TConsultMsgRx {
		return ""
	}
	return f.Conv
}

// UnwatchRes answers consult_unwatch: Stopped is false when the session
// was not watching the consultation live (nothing changed).
type UnwatchRes struct {
	Stopped bool `json:"stopped"`
}
