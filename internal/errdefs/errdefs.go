// Package errdefs classifies errors by what the caller did wrong (or
// what went wrong), so the API layer can map them to Docker's status codes
// without knowing where they came from.
package errdefs

import (
	"errors"
	"net/http"
)

type kind int

const (
	kindNotFound kind = iota + 1
	kindConflict
	kindInvalid
	kindNotModified
	kindForbidden
	kindUnavailable
	kindNotImplemented
	kindUnauthorized
)

type classified struct {
	error
	k kind
}

func (c classified) Unwrap() error { return c.error }

func wrap(err error, k kind) error {
	if err == nil {
		return nil
	}
	return classified{err, k}
}

// NotFound: no such container, image, volume … (404).
func NotFound(err error) error { return wrap(err, kindNotFound) }

// Conflict: the name is taken, the container is running … (409).
func Conflict(err error) error { return wrap(err, kindConflict) }

// InvalidParameter: the request is wrong (400).
func InvalidParameter(err error) error { return wrap(err, kindInvalid) }

// NotModified: already started, already stopped (304).
func NotModified(err error) error { return wrap(err, kindNotModified) }

// Forbidden: not allowed in this state or configuration (403).
func Forbidden(err error) error { return wrap(err, kindForbidden) }

// Unavailable: the daemon cannot serve this now (503).
func Unavailable(err error) error { return wrap(err, kindUnavailable) }

// NotImplemented: a part of the API gorae does not have yet (501).
func NotImplemented(err error) error { return wrap(err, kindNotImplemented) }

// Unauthorized: the registry refused the credentials (401).
func Unauthorized(err error) error { return wrap(err, kindUnauthorized) }

func is(err error, k kind) bool {
	var c classified
	for err != nil {
		if errors.As(err, &c) {
			if c.k == k {
				return true
			}
			err = c.error
			continue
		}
		return false
	}
	return false
}

// IsNotFound reports whether err is classified NotFound.
func IsNotFound(err error) bool { return is(err, kindNotFound) }

// IsConflict reports whether err is classified Conflict.
func IsConflict(err error) bool { return is(err, kindConflict) }

// IsInvalidParameter reports whether err is classified InvalidParameter.
func IsInvalidParameter(err error) bool { return is(err, kindInvalid) }

// IsNotModified reports whether err is classified NotModified.
func IsNotModified(err error) bool { return is(err, kindNotModified) }

// HTTPStatus is the status Docker answers for err: 500 only for what is
// not classified, i.e. a real fault.
func HTTPStatus(err error) int {
	var c classified
	if !errors.As(err, &c) {
		return http.StatusInternalServerError
	}
	switch c.k {
	case kindNotFound:
		return http.StatusNotFound
	case kindConflict:
		return http.StatusConflict
	case kindInvalid:
		return http.StatusBadRequest
	case kindNotModified:
		return http.StatusNotModified
	case kindForbidden:
		return http.StatusForbidden
	case kindUnavailable:
		return http.StatusServiceUnavailable
	case kindNotImplemented:
		return http.StatusNotImplemented
	case kindUnauthorized:
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}
