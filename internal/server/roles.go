package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/parley-im/parley/internal/chat"
	"github.com/parley-im/parley/internal/remote"
)

// Roles a node may take (Config.Roles).
const (
	RoleGateway = "gateway" // client connections: WebSocket, long-poll, files, GET /v1/gateway
	RoleLogic   = "logic"   // sends and the server API
	RoleWorker  = "worker"  // background work: the event relay and webhooks, consultation timers
)

// roles is a parsed Config.Roles.
type roles struct{ gateway, logic, worker bool }

// parseRoles reads a comma-separated role list; "" is all three.
func parseRoles(s string) (roles, error) {
	if strings.TrimSpace(s) == "" {
		return roles{true, true, true}, nil
	}
	var r roles
	for _, p := range strings.Split(s, ",") {
		switch strings.TrimSpace(p) {
		case RoleGateway:
			r.gateway = true
		case RoleLogic:
			r.logic = true
		case RoleWorker:
			r.worker = true
		default:
			return r, fmt.Errorf("roles must be a comma-separated list of %s, not %q", strings.Join([]string{RoleGateway, RoleLogic, RoleWorker}, ", "), s)
		}
	}
	return r, nil
}

// remoteSendTimeout bounds a send handed between nodes.
const remoteSendTimeout = 10 * time.Second

// remoteChat is the chat service of a gateway node without the logic
// role: sends go to the logic nodes (internal/remote), everything else
// is served here from the shared store.
type remoteChat struct {
	*chat.Service
	c *remote.Client
}

func (r remoteChat) SendAsync(ctx context.Context, req chat.SendRequest, done func(chat.SendResult)) {
	r.c.SendAsync(ctx, req, done)
}

// String lists r for the log.
func (r roles) String() string {
	var out []string
	for _, x := range []struct {
		on   bool
		name string
	}{{r.gateway, RoleGateway}, {r.logic, RoleLogic}, {r.worker, RoleWorker}} {
		if x.on {
			out = append(out, x.name)
		}
	}
	return strings.Join(out, ",")
}
