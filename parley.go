// Package parley holds Parley's domain: apps, users, conversations and
// messages, the error type every layer speaks, and the storage, registry and
// bus contracts that adapters (sqlite, inmem, ...) implement.
//
// The package imports no transport and no storage technology. Everything in
// it is safe for concurrent use unless a comment says otherwise.
package parley
