// Package redisreg implements parley.Registry in Redis: the connection
// table that every node of a deployment shares (the source systems'
// DispatchTable), which the dispatcher reads to route deliveries and
// presence reads to tell who is online. It passes
// parleytest.RunRegistryTests against a real Redis.
//
// # Keys
//
// Under Options.Prefix (default "parley:"):
//
//	c:<app>:<user>            hash: connection id -> row (node, lease instance, device,
//	                          platform, client ip, since; see row.go); expires Options.TTL
//	                          (2 h) after the user's last registration
//	lease:<node>              string: the instance id holding the node's lease; expires
//	                          Options.LeaseTTL (15 s) after its last renewal
//	idx:<node><instance>      set: the user keys an instance registered rows in, so that
//	                          its rows can be found without SCAN
//	instances                 sorted set: every lease instance, scored by its last renewal
//
// Every command and script names one key and no transaction spans two,
// so the layout suits a Redis Cluster too (go-redis splits pipelines by
// slot); only a single Redis has been tested.
//
// # Leases
//
// A node Acquires its lease before it registers a connection (Register
// refuses a node whose lease this Registry does not hold), keeps it with
// Lease.Start, and Releases it on graceful shutdown. Each Acquire is a
// new instance; rows carry it, and Locate returns a row only while its
// instance holds its node's lease. So:
//
//   - a node that crashed is ignored once its lease lapses (LeaseTTL),
//     one that released its lease or restarted under the same name at
//     once (within Options.LeaseCache, how long Locate trusts the lease
//     states it read);
//   - Registry.Clean, which every started lease runs each CleanEvery,
//     removes the rows of dead instances through their index;
//   - Release removes the node's own rows.
//
// Locate reads the rows of all its users in one pipelined round trip,
// with the leases of every known node when the cached states are older
// than LeaseCache; a node never seen before costs one more round trip.
//
// # When Redis loses its data
//
// Messages are durable in the store; the registry only routes, and a
// Redis restarted without persistence comes back empty. Each node then
// finds its lease key gone at its next renewal (Lease.Renew reports it
// restored) and registers its live connections again in pipelined
// batches (Lease.Sync). A started lease renews as soon as the client
// opens a new connection, which its first command after a restart does,
// so this takes a few round trips after Redis answers again (~25 ms in
// TestRestartIsNoticedAtTheFirstNewConnection), not a renewal period.
// Until then the node's connections cannot be found:
// pushes to them are lost, which sync repairs (a client that reconnects,
// or gets its next push, pulls what it missed). Start does all of this;
// it also syncs every SyncEvery, which refreshes the rows' expiry and
// removes rows whose Unregister failed, and after any failed renewal.
//
// # Concurrency
//
// Registry and Lease are safe for concurrent use. The only goroutine is
// a started lease's upkeep, ended and waited for by Stop or Release. New
// adds a hook to the client it is given (see New), so give each
// Registry a client of its own.
// Registry.mu (the leases held) and the lease cache's lock are leaves:
// no Redis call is made with either held.
package redisreg
