package parley

import (
	"context"
	"time"
)

// ConnInfo describes one live client connection: the connection table row
// that the dispatcher uses to find where a user's devices are connected.
type ConnInfo struct {
	AppID    string    `json:"app"`
	UserID   string    `json:"user"`
	ConnID   string    `json:"conn"`
	Node     string    `json:"node"`
	Device   string    `json:"device"`
	Platform Platform  `json:"platform"`
	ClientIP string    `json:"ip"`
	Since    time.Time `json:"since"`
}

// Registry is the connection table: which node holds which connection of
// which user. The inmem package implements it for a single node. Every
// implementation must pass parleytest.RunRegistryTests.
type Registry interface {
	// Register adds or refreshes a connection. Registering the same ConnID
	// again replaces its row.
	Register(ctx context.Context, c ConnInfo) error
	// Unregister removes a connection. Removing an unknown one is not an
	// error.
	Unregister(ctx context.Context, appID, userID, connID string) error
	// Locate returns every live connection of the given users of one app,
	// in no particular order.
	Locate(ctx context.Context, appID string, userIDs []string) ([]ConnInfo, error)
}

// Delivery is one thing to hand to connections on a node: a message push,
// a read receipt, a kick. Kind and Payload are interpreted by the gateway;
// the bus and the dispatcher treat them as opaque.
type Delivery struct {
	AppID string `json:"app"`
	// Users receive the delivery on every one of their connections on the
	// node, except SkipConn.
	Users    []string `json:"users,omitempty"`
	SkipConn string   `json:"skip,omitempty"`
	Kind     string   `json:"kind"`
	Payload  []byte   `json:"payload"`
}

// Bus carries batches of deliveries to the node that holds the recipients'
// connections. The inmem package implements it within one process. Every
// implementation must pass parleytest.RunBusTests.
type Bus interface {
	// Send hands a batch to node. It returns when the bus has accepted the
	// batch; delivery is at most once (sync, not the bus, is the source of
	// truth). Returns EUnavailable if node is not listening.
	Send(ctx context.Context, node string, batch []Delivery) error
	// Listen calls h with every batch sent to node until stop is called.
	// h runs on one goroutine per node, in the order batches were sent;
	// it must not block for long. Returns EConflict if node is already
	// listening.
	Listen(node string, h func([]Delivery)) (stop func(), err error)
}
