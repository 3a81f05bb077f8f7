// Package bench is Parley's load generator: it drives a real server over
// loopback with the Go client and measures what users of an IM server
// compare — server memory per idle connection, one-to-one throughput and
// end-to-end latency under an open-loop rate, broadcast fan-out time — and
// checks every sequence it receives for loss, duplication and reordering.
//
// A run has one coordinator and one or more workers. The coordinator
// starts the server (or targets a running one), creates the users and
// their tokens through the server API, hands each worker its share of the
// users, paces the scenario and merges what the workers report. A worker
// holds its users' clients, with their connections bound to its own
// source address (127.0.0.2, 127.0.0.3, ...) so that many connections do
// not exhaust one address's ephemeral ports, and reports JSON lines. The
// coordinator talks to a worker over a pipe: in-process (a goroutine, for
// tests and small runs) or a child process ("parley bench worker"), which
// is how one run holds more connections than one process may open.
//
// Everything is bounded: connection counts, rates, durations and the
// number of sends in flight; nothing is sent anywhere but the target
// server, which must be on a loopback address.
package bench
