// Package gwsws is the second WebSocket transport of internal/gateway:
// gateway.Upgrader and gateway.Conn over github.com/lxzan/gws, with a
// goroutine per connection. It exists so the transport contract
// (gatewaytest.RunTransportTests) and the session code above it run under
// the race detector, which cannot see into nbio (internal/gateway/nbiows,
// the default). It costs several KB and a goroutine or two per connection.
//
// # Concurrency contract
//
// Events. Each connection has one read goroutine (gws.Conn.ReadLoop),
// started by Upgrade after the Handler is installed and ended when the
// connection ends. It parses frames and calls Handler.Frame for each
// message, serially and in order (gws's ParallelEnabled is off), then
// Handler.Closed once. The payload passed to Frame is a pooled buffer,
// reused once Frame returns.
//
// Writes. Conn.Write copies the frame into a queue of its own and returns;
// a writer goroutine, started when the queue becomes non-empty and ended
// when it is empty, writes the queue to the socket in order (blocking
// writes). The bytes queued and not yet taken by the kernel are counted; a
// Write that would take the count past gateway.TransportOptions.MaxBacklog
// returns gateway.ErrBacklog and queues nothing. Frames written by one
// goroutine go out in order.
//
// Close. Conn.Close queues a close frame behind the frames already
// queued, stops accepting Writes (gateway.ErrClosed) and delivering
// Frames, and sets a write deadline 5 seconds ahead so that a writer stuck
// on a client that does not read gives up; gws closes the socket right
// after writing the close frame. A close frame from the peer is answered
// by gws and ends the connection. Closed's error says why, for logs: a
// *gws.CloseError for a peer's close frame, the code we sent after our own
// Close, a socket error for a vanished peer. A message larger than
// gateway.TransportOptions.MaxMessageSize makes gws send close 1009 and
// end the connection. Upgrader.Close closes every socket without a close frame
// and waits for all read and writer goroutines, by which time every
// Handler has had Closed.
package gwsws
