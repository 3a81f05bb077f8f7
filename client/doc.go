// Package client is Parley's reference Go client: it connects a device to a
// Parley server over WebSocket or HTTP long-poll, keeps the connection alive
// (heartbeats, reconnection with jittered backoff), and turns the server's
// best-effort pushes into a reliable, ordered stream of messages.
//
// # Delivery contract
//
// For every conversation the user belongs to, OnMessage is called exactly
// once per message, in sequence order, without gaps: message seq n is
// delivered only after seq n-1. This includes messages the user sent, from
// this client or from another device. Pushes are acknowledged to the server
// once handled, in batches (at most 50 ms late); a push that arrives ahead of a gap makes the client pull
// the gap first; after every (re)connection and on the server's resync
// frame the client runs sync (the server's source of truth) and pulls what
// it misses. A client starts with no state, so its first sync delivers
// every conversation's whole history.
//
// State lives in memory only: cursors (the highest seq delivered per
// conversation) and the sync version. Duplicates are recognised by seq, so
// no set of message ids is kept.
//
// # Concurrency
//
// A Client is safe for concurrent use. Every callback (OnMessage, OnRead,
// OnState) runs on one goroutine that the client owns, serially: a
// callback never runs concurrently with another. Callbacks may call the
// Client's request methods, but should return promptly: while a callback
// runs, no other event is delivered and pushes are not acknowledged (a
// client that falls far behind is disconnected by the server as a slow
// consumer, then reconnects and resyncs). Close must not be called from a
// callback, because it waits for callbacks to return.
//
// Every goroutine the client starts ends by the time Close returns.
//
// # Example
//
//	c, err := client.Dial(ctx, client.Options{
//		URL:    "http://127.0.0.1:8080",
//		Token:  token, // from POST /v1/server/tokens
//		Device: "laptop",
//		OnMessage: func(m parley.Message) {
//			fmt.Printf("%s #%d %s: %s\n", m.ConvID, m.Seq, m.Sender, m.Body)
//		},
//	})
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	_, err = c.Send(ctx, "bob", parley.KindText, json.RawMessage(`{"text":"hi"}`))
package client
