package gateway

import (
	"time"

	"github.com/parley-im/parley"
)

// Live returns the connection-table row of every authenticated session on
// this node, for a registry that restores or reconciles a node's rows
// (redisreg.Lease.Sync). A session is listed from before it is registered
// until before it is unregistered: the hub adds it before Register and
// removes it before Unregister. Since is when the connection was
// accepted.
func (g *Gateway) Live() []parley.ConnInfo {
	all := g.hub.all()
	out := make([]parley.ConnInfo, 0, len(all))
	for _, s := range all {
		if s.state.Load() != stateAuthed {
			continue
		}
		out = append(out, parley.ConnInfo{
			AppID: s.app, UserID: s.user, ConnID: s.connID, Node: g.cfg.Node,
			Device: s.device, Platform: s.platform, ClientIP: s.ip, Since: time.Unix(0, s.born),
		})
	}
	return out
}
