package consult

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/chat"
)

// automate runs the automations on a user's message, stored at at (Unix
// ms of the clock): on the first one of a consultation the off-hours
// reply when the shop is closed at that time; on every one, while the
// consultation waits or is served, the answer of the first FAQ entry
// with a keyword the text contains (case-insensitive).
func (s *Service) automate(ctx context.Context, c *parley.Consultation, m *parley.Message, at int64, first bool) {
	if !c.State.Open() {
		return
	}
	sh, err := s.store.Shop(ctx, c.AppID, c.Shop)
	if err != nil {
		return
	}
	if first && sh.OffHoursReply != "" && !sh.OpenAt(time.UnixMilli(at)) {
		s.autoReply(ctx, c, "off_hours", sh.OffHoursReply)
	}
	if a := matchFAQ(sh.FAQ, m); a != "" {
		s.autoReply(ctx, c, "faq", a)
	}
}

// matchFAQ returns the answer of the first entry with a keyword in m's
// text, "" if none (or m is not text).
func matchFAQ(faq []parley.FAQEntry, m *parley.Message) string {
	if m.Kind != parley.KindText || len(faq) == 0 {
		return ""
	}
	var body struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(m.Body, &body) != nil {
		return ""
	}
	text := strings.ToLower(body.Text)
	for _, f := range faq {
		for _, k := range f.Keywords {
			if strings.Contains(text, strings.ToLower(strings.TrimSpace(k))) {
				return f.Answer
			}
		}
	}
	return ""
}

// autoReply sends an automatic text into the thread from "_system", with
// "auto" naming the automation: it is not an agent's reply, so it counts
// in no response metric.
func (s *Service) autoReply(ctx context.Context, c *parley.Consultation, auto, text string) {
	body, _ := json.Marshal(map[string]string{"text": text, "auto": auto, "consult": c.ID})
	r := s.chat.Send(ctx, chat.SendRequest{AppID: c.AppID, Sender: parley.SystemUserID, ConvID: c.Conv,
		Kind: parley.KindText, Body: body})
	if r.Err != nil {
		s.log.Warn("consult: automatic reply not stored", "err", r.Err, "app_id", c.AppID, "conv_id", c.Conv)
	}
}
