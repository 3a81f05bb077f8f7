// Package gateway holds client sessions: it authenticates connections,
// decodes frames, hands sends to the chat service, pushes deliveries with
// per-session numbering, tracks acknowledgements and retransmits, and
// enforces heartbeats and backlog bounds. Sessions run over a WebSocket
// transport (the Upgrader interface) or over HTTP long-poll.
package gateway
