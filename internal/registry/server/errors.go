package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Code is one of the distribution spec's error codes; each has its HTTP
// status.
type Code string

// The spec's codes (distribution-spec "Error Codes") and the ones Docker's
// distribution added that clients know.
const (
	CodeBlobUnknown         Code = "BLOB_UNKNOWN"
	CodeBlobUploadInvalid   Code = "BLOB_UPLOAD_INVALID"
	CodeBlobUploadUnknown   Code = "BLOB_UPLOAD_UNKNOWN"
	CodeDigestInvalid       Code = "DIGEST_INVALID"
	CodeManifestBlobUnknown Code = "MANIFEST_BLOB_UNKNOWN"
	CodeManifestInvalid     Code = "MANIFEST_INVALID"
	CodeManifestUnknown     Code = "MANIFEST_UNKNOWN"
	CodeNameInvalid         Code = "NAME_INVALID"
	CodeNameUnknown         Code = "NAME_UNKNOWN"
	CodeSizeInvalid         Code = "SIZE_INVALID"
	CodeUnauthorized        Code = "UNAUTHORIZED"
	CodeDenied              Code = "DENIED"
	CodeUnsupported         Code = "UNSUPPORTED"
	CodeTooManyRequests     Code = "TOOMANYREQUESTS"
	CodeRangeInvalid        Code = "RANGE_INVALID" // distribution's, for 416
	CodePaginationInvalid   Code = "PAGINATION_NUMBER_INVALID"
)

var codeStatus = map[Code]int{
	CodeBlobUnknown:         http.StatusNotFound,
	CodeBlobUploadInvalid:   http.StatusBadRequest,
	CodeBlobUploadUnknown:   http.StatusNotFound,
	CodeDigestInvalid:       http.StatusBadRequest,
	CodeManifestBlobUnknown: http.StatusBadRequest,
	CodeManifestInvalid:     http.StatusBadRequest,
	CodeManifestUnknown:     http.StatusNotFound,
	CodeNameInvalid:         http.StatusBadRequest,
	CodeNameUnknown:         http.StatusNotFound,
	CodeSizeInvalid:         http.StatusBadRequest,
	CodeUnauthorized:        http.StatusUnauthorized,
	CodeDenied:              http.StatusForbidden,
	CodeUnsupported:         http.StatusMethodNotAllowed,
	CodeTooManyRequests:     http.StatusTooManyRequests,
	CodeRangeInvalid:        http.StatusRequestedRangeNotSatisfiable,
	CodePaginationInvalid:   http.StatusBadRequest,
}

// Error is an error the registry reports to its client in the spec's JSON
// body. Storage implementations return them (wrapped or not) for what the
// client did wrong; any other error is a 500.
type Error struct {
	Code    Code
	Message string
	Detail  any
	// Status overrides the code's usual HTTP status (0: the usual).
	Status int
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf makes an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) status() int {
	if e.Status != 0 {
		return e.Status
	}
	if s, ok := codeStatus[e.Code]; ok {
		return s
	}
	return http.StatusBadRequest
}

type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// writeError answers with err as the spec's error body; an error that is
// not an *Error is a fault of ours, logged and reported as a 500 without
// its internals.
func writeError(w http.ResponseWriter, r *http.Request, log logFunc, err error) {
	var e *Error
	if !errors.As(err, &e) {
		log("registry: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = &Error{Code: "UNKNOWN", Message: "internal error: " + err.Error(), Status: http.StatusInternalServerError}
	}
	body, _ := json.Marshal(errorBody{Errors: []errorEntry{{Code: e.Code, Message: e.Message, Detail: e.Detail}}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(e.status())
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

type logFunc func(msg string, args ...any)
