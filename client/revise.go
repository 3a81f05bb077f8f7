package client

import (
	"context"
	"encoding/json"

	"github.com/parley-im/parley"
)

// Recall withdraws message seq of conv: a recall event takes the
// conversation's next seq, every device (offline ones when they sync)
// receives it through OnMessage, and history shows the message as
// parley.KindRecalled with an empty body. The sender may recall within the
// server's recall window (2 minutes by default); a group's owner and
// admins may recall any message. Errors: not_found, invalid (not an
// ordinary message, already recalled), forbidden.
func (c *Client) Recall(ctx context.Context, conv string, seq uint64) (*parley.Message, error) {
	body, _ := json.Marshal(parley.RevisionBody{Seq: seq})
	return c.SendConv(ctx, conv, parley.KindRecall, body)
}

// Edit replaces the text of message seq of conv, a text message the user
// sent, within the server's edit window (24 hours by default). Like
// Recall, the edit is an event in the conversation's sequence; history
// shows the new text with "edited": the event's seq.
func (c *Client) Edit(ctx context.Context, conv string, seq uint64, text string) (*parley.Message, error) {
	body, _ := json.Marshal(parley.RevisionBody{Seq: seq, Text: text})
	return c.SendConv(ctx, conv, parley.KindEdit, body)
}
