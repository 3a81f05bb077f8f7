package consult

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/parley-im/parley"
)

// hookRequest is what a routing hook receives: the consultation and the
// agents available for it.
type hookRequest struct {
	Consult *parley.Consultation `json:"consult"`
	Agents  []*parley.Agent      `json:"agents"`
}

// askHook posts the consultation and its candidates to the queue's
// routing hook and returns the candidate it names in {"agent": "<id>"},
// or nil when the hook fails, times out (Config.HookTimeout), answers
// anything but 200 or names nobody available: the strategy then
// decides. The answer is read up to 4 KiB.
func (s *Service) askHook(ctx context.Context, q *parley.ConsultQueue, c *parley.Consultation, cands []*parley.Agent) *parley.Agent {
	body, err := json.Marshal(hookRequest{Consult: c, Agents: cands})
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.HookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, q.Hook, bytes.NewReader(body))
	if err != nil {
		return nil
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		s.log.Warn("consult: routing hook failed", "err", err, "app_id", q.AppID)
		return nil
	}
	defer res.Body.Close()
	var out struct {
		Agent string `json:"agent"`
	}
	if res.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(res.Body, 4096)).Decode(&out) != nil {
		return nil
	}
	for _, a := range cands {
		if a.ID == out.Agent {
			return a
		}
	}
	return nil
}
