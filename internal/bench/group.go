package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/parley-im/parley/wire"
)

// ScenarioGroup: the online members of one big group take turns to send
// to it at stepped rates; every online member receives every message.
const ScenarioGroup = "group"

// groupChunk is how many members one server-API call adds (the server's
// limit per change).
const groupChunk = 1000

// createGroup creates the run's group through the server API with ids[0]
// as its owner and every other id as a member.
func (c *Config) createGroup(ctx context.Context, ids []string) error {
	gid := strings.TrimPrefix(c.groupConv, "g:")
	first := ids[1:min(len(ids), groupChunk)]
	if err := c.Target.api(ctx, "/v1/server/groups", map[string]any{"id": gid, "owner": ids[0], "members": first,
		"max_members": max(len(ids), 2)}, nil); err != nil {
		return err
	}
	for i := groupChunk; i < len(ids); i += groupChunk {
		chunk := ids[i:min(i+groupChunk, len(ids))]
		if err := c.Target.api(ctx, "/v1/server/groups/"+url.PathEscape(gid)+"/members", map[string]any{"users": chunk}, nil); err != nil {
			return err
		}
		c.progressf("group: %d of %d members added", i+len(chunk), len(ids))
	}
	return nil
}

// lastSeq asks the server API for conv's last seq.
func (c *Config) lastSeq(ctx context.Context, conv string) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		c.Target.URL+"/v1/server/conversations/"+url.PathEscape(conv)+"/messages?newest=true&limit=1", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Target.APIKey)
	resp, err := c.Target.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("bench: the history of %s: %s", conv, resp.Status)
	}
	var res wire.PullRes
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&res); err != nil {
		return 0, err
	}
	if len(res.Msgs) == 0 {
		return 0, nil
	}
	return res.Msgs[len(res.Msgs)-1].Seq, nil
}
