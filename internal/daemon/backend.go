package daemon

import "github.com/gorae/gorae/internal/api"

var _ api.Backend = (*Daemon)(nil)
