package parley

import (
	"errors"
	"fmt"
)

// Error codes. They are part of the public protocol (docs/protocol.md):
// clients see them in error frames and REST error bodies. Add, never rename.
const (
	EInvalid      = "invalid"      // the input failed validation
	EBadFrame     = "bad_frame"    // a frame could not be decoded
	ETooLarge     = "too_large"    // an input exceeded its size limit
	EUnauthorized = "unauthorized" // missing, bad, expired or revoked credentials
	EForbidden    = "forbidden"    // authenticated, but not allowed (e.g. not a member)
	ENotFound     = "not_found"    // the thing does not exist
	EConflict     = "conflict"     // the request conflicts with current state
	ERateLimited  = "rate_limited" // too many requests; retry later
	EUnavailable  = "unavailable"  // the server cannot serve now (draining, overloaded)
	EInternal     = "internal"     // a bug or an infrastructure failure
	EDisabled     = "disabled"     // the feature is switched off for the app (AppSettings)
)

// Error is Parley's error. Code is one of the E* constants and is stable;
// Message is for humans and may change. Op names the operation that failed
// (for logs). Err, when set, is the underlying cause and is never shown to
// clients for EInternal errors.
type Error struct {
	Code    string
	Message string
	Op      string
	Err     error
}

func (e *Error) Error() string {
	s := e.Code
	if e.Op != "" {
		s = e.Op + ": " + s
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, "" for nil
// and EInternal for any other error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the human-readable message of the first *Error in
// err's chain. Internal errors get a generic text so that causes (SQL, file
// paths) never leak to clients.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EInternal {
		if e.Message != "" {
			return e.Message
		}
		return e.Code
	}
	return "internal error"
}
