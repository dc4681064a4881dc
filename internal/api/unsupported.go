package api

import (
	"errors"
	"net/http"

	"github.com/gorae/gorae/internal/errdefs"
)

// unsupportedRoutes answers the parts of the Engine API gorae does not
// have yet with 501 and a sentence naming what is missing, rather than a
// bare 404 "page not found". The words "not supported" matter: `docker
// inspect NAME` tries each object kind in turn and skips a kind whose
// error says so.
func (s *Server) unsupportedRoutes() {
	for what, patterns := range map[string][]string{
		"attach over websocket": {"GET /containers/{id}/attach/ws"},
		"building images":       {"POST /build", "POST /build/cancel", "POST /session"},
		"registry search":       {"GET /images/search"},
	} {
		err := errdefs.NotImplemented(errors.New(what + " is not supported yet by gorae"))
		for _, p := range patterns {
			s.handle(p, func(http.ResponseWriter, *http.Request) error { return err })
		}
	}
	// Pruning what gorae cannot create yet finds nothing: an empty report
	// is the truth, and `docker system prune` prunes all kinds in turn.
	s.handle("POST /build/prune", func(w http.ResponseWriter, _ *http.Request) error {
		return writeJSON(w, http.StatusOK, map[string]any{"CachesDeleted": []string{}, "SpaceReclaimed": 0})
	})
}
