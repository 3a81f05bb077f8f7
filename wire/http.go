package wire

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/parley-im/parley"
)

// HTTPStatus is the one table from error codes to HTTP statuses, used by
// every REST and long-poll endpoint.
func HTTPStatus(code string) int {
	switch code {
	case "":
		return http.StatusOK
	case parley.EInvalid, parley.EBadFrame:
		return http.StatusBadRequest
	case parley.EUnauthorized:
		return http.StatusUnauthorized
	case parley.EForbidden, parley.EDisabled:
		return http.StatusForbidden
	case parley.ENotFound:
		return http.StatusNotFound
	case parley.EConflict:
		return http.StatusConflict
	case parley.ETooLarge:
		return http.StatusRequestEntityTooLarge
	case parley.ERateLimited:
		return http.StatusTooManyRequests
	case parley.EUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// ErrorBody is the JSON body of an HTTP error:
// {"error":{"code":"...","message":"..."}}.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// WriteHTTPError answers an HTTP request with err's status and body.
func WriteHTTPError(w http.ResponseWriter, err error) {
	var b ErrorBody
	b.Error.Code = parley.ErrorCode(err)
	b.Error.Message = parley.ErrorMessage(err)
	WriteJSON(w, HTTPStatus(b.Error.Code), b)
}

// WriteJSON answers an HTTP request with status and v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ReadBody reads an HTTP request body of at most limit bytes. Errors are
// ETooLarge past the limit and EInvalid when the body cannot be read.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, parley.Errorf(parley.ETooLarge, "body larger than %d bytes", limit)
	}
	if err != nil {
		return nil, parley.Errorf(parley.EInvalid, "could not read body")
	}
	return b, nil
}
