// Package nbiows is Parley's default WebSocket transport: the gateway.Upgrader
// and gateway.Conn of internal/gateway over github.com/lesismal/nbio in
// "hybrid" mode. The application's net/http server answers the upgrade
// request; websocket.Upgrader.UpgradeAndTransferConnToPoller then duplicates
// the socket onto the epoll pollers of an nbhttp.Engine owned by the
// Upgrader, and net/http forgets it.
//
// # What an idle connection costs
//
// No goroutine, no timer and no read buffer. Each poller (one per CPU) has
// one 64 KiB read buffer that all its connections share; bytes of a frame
// that has not fully arrived are held in a pooled buffer only until it has; nbio's read deadlines and keepalive
// are off (the session layer runs idle timeouts from a shared sweeper). What
// stays is the connection's bookkeeping on the heap: nbio's Conn and
// websocket.Conn and this package's conn. Measured with 15,000 idle
// connections (the clients in another process): 1.2 KB of heap and 1.4 KB
// of RSS per connection, and no goroutine.
//
// # Concurrency contract
//
// Events. A poller goroutine reads a connection's bytes and parses them in
// order. Every complete message, ping and close frame becomes a job on the
// connection's own job list (nbio.Conn.Execute); the list is run by one
// worker goroutine at a time, job after job, in the order the frames
// arrived, and the close of the connection is the last job on the same list
// (nbio.Conn.MustExecute). So Handler.Frame is called serially and in order,
// and Handler.Closed after the last Frame. Workers are goroutines this
// package starts per busy connection (at most 1024 per CPU at once; a poller
// waits for a free one) and that exit when the connection's list is empty;
// Upgrader.Close waits for them. Each conn also holds a mutex of its own
// around every event it delivers, so Frame calls for one connection can
// never overlap, and an event arriving before Upgrade has returned waits for
// the Handler to be installed. The payload passed to Frame is a pooled
// buffer, reused once Frame returns.
//
// Writes. Conn.Write copies the frame into nbio, which writes it to the
// socket at once and keeps whatever the kernel did not take in the
// connection's write list; the poller flushes that when the socket becomes
// writable. Write never waits for the network. The bytes handed to nbio
// and not yet accepted by the kernel are counted per connection (added by
// Write, subtracted from nbio's OnWrittenSize callback); a Write that would
// take the count past gateway.TransportOptions.MaxBacklog returns
// gateway.ErrBacklog and queues nothing, and the connection stays open. nbio's own limit,
// Engine.MaxWriteBufferSize, is set MaxBacklog+64 KiB as a backstop only:
// when nbio's count passes it, nbio closes the socket at once, without a
// close frame, and Write returns gateway.ErrBacklog for that frame.
// Writes are serialised per connection, so frames written by one goroutine
// go out in order.
//
// Close. Conn.Close queues a close frame behind the frames already written,
// stops accepting Writes (gateway.ErrClosed) and delivering Frames, and
// waits for the peer's answering close frame for at most 5 seconds before
// closing the socket; nbio drops whatever it still holds unsent at that
// point. A close frame from the peer is answered with its code and closes
// the socket. Closed's error says why, for logs: after a closing handshake
// nil if the peer's code was 1000 and a *websocket.CloseError otherwise;
// io.EOF or a socket error for a vanished peer; nbio.ErrReadTimeout for a
// peer that did not answer our close frame; websocket.ErrMessageTooLarge;
// ErrUpgraderClosed after Upgrader.Close. A message larger than
// gateway.TransportOptions.MaxMessageSize is refused by nbio as soon as its
// header is read: nbio sends close 1009 and closes the
// socket. Upgrader.Close stops the engine, closes every connection without
// a close frame, waits for the workers, and delivers Closed to every
// connection that has not had it.
//
// Caveats. nbio drops an empty message (zero-length payload) instead of
// delivering it; Parley has no empty frame, so the session never misses
// one it would accept. When a message is refused for its size while part
// of it is still unread in the kernel, closing the socket makes the kernel
// send a reset, and the client may see an abnormal closure (1006) instead
// of 1009. nbio marks its code //go:norace, so the race detector does not
// see inside it; internal/gateway/gwsws implements the same contract with
// github.com/lxzan/gws and runs the same suite (gatewaytest) under -race.
// A connection that arrives over TLS at the net/http server would fall
// back to a goroutine per connection inside nbio, so Upgrade refuses it:
// terminate TLS in front of Parley. nbio logs through its own package-level
// logger (github.com/lesismal/nbio/logging); cmd decides whether to
// silence or redirect it.
package nbiows
