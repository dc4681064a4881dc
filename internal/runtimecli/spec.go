package runtimecli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gorae/gorae/internal/runtime"
)

func writeDefaultSpec(bundle string, rootless bool) error {
	path := filepath.Join(bundle, "config.json")
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s already exists: remove it first", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	s := runtime.DefaultSpec(rootless)
	if rootless {
		uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
		s.Linux.UIDMappings[0].HostID = uid
		s.Linux.GIDMappings[0].HostID = gid
	}
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
