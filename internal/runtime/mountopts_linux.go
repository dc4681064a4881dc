package runtime

import (
	"errors"

	"github.com/gorae/gorae/internal/runtime/initproc"
)

// MountOptions splits fstab-style options into mount(2) flags and
// filesystem data, with the runtime's own table, for other mounters (the
// local volume driver's `o=`). Propagation and recursive attributes have
// no place there and are refused.
func MountOptions(opts []string) (flags uintptr, data string, err error) {
	flags, pflags, data, rec, err := initproc.ParseMountOptions(opts)
	if err == nil && (len(pflags) > 0 || rec != nil) {
		return 0, "", errors.New("propagation and recursive options cannot be given to this mount")
	}
	return flags, data, err
}
