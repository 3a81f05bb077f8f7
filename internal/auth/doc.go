// Package auth issues and checks Parley's credentials: API keys, with which
// business backends call the server-to-server API, and client tokens (JWT,
// HS256), with which users' devices open sessions.
//
// Every check fails with a *parley.Error of code EUnauthorized whose message
// says what was wrong ("token expired", "token signature invalid", ...) and
// never echoes secrets. Inputs are size-limited before they are decoded.
//
// The package keeps no state: every function is safe for concurrent use.
// Revocation ("tokens issued before t are void") is checked by the caller
// against the store, not here.
package auth
