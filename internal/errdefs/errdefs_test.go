package errdefs

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestClassesSurviveWrapping(t *testing.T) {
	base := errors.New("no such container: x")
	err := fmt.Errorf("inspect: %w", NotFound(base))
	if !IsNotFound(err) || IsConflict(err) || HTTPStatus(err) != http.StatusNotFound {
		t.Errorf("classification lost: %v", err)
	}
	if !errors.Is(err, base) {
		t.Error("cause lost")
	}
	if HTTPStatus(errors.New("disk on fire")) != http.StatusInternalServerError {
		t.Error("unclassified must be 500")
	}
	for _, c := range []struct {
		f    func(error) error
		code int
	}{{Conflict, 409}, {InvalidParameter, 400}, {NotModified, 304}, {Forbidden, 403}, {Unavailable, 503}, {NotImplemented, 501}} {
		if got := HTTPStatus(c.f(base)); got != c.code {
			t.Errorf("got %d want %d", got, c.code)
		}
	}
	if NotFound(nil) != nil {
		t.Error("nil must stay nil")
	}
}
