package daemon

import "github.com/gorae/gorae/internal/registry/server"

// RegistryStorage is the image store as a read-only registry storage
// (daemon.json "registry-serve"): other machines pull straight from this
// node without a separate registry.
func (d *Daemon) RegistryStorage() server.Storage {
	return server.NewImageStore(d.images, d.content)
}
