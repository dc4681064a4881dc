package snapshot

// The snapshot store on disk (docs/snapshot.md has the full picture):
//
//	ROOT/lock                    flock'd while a process has the store open
//	ROOT/snapshots/ID/info.json  the snapshot's record; written temp+fsync+rename
//	ROOT/snapshots/ID/fs/        its layer (the overlay upperdir when active)
//	ROOT/snapshots/ID/work/      overlay workdir, active snapshots only
//	ROOT/snapshots/rm-ID/        a snapshot being removed
//
// A snapshot exists exactly when ID/info.json does: creating one ends by
// renaming info.json into place, removing one starts by renaming ID to
// rm-ID. Open deletes ID directories without info.json and rm-* ones, which
// is all that a crash at any moment can leave behind.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gorae/gorae/internal/atomicfile"

	"golang.org/x/sys/unix"
)

const (
	infoFile    = "info.json"
	fsDir       = "fs"
	workDir     = "work"
	removingPfx = "rm-"
)

// record is info.json: one snapshot.
type record struct {
	ID       string            `json:"id"`
	Kind     string            `json:"kind"`
	Name     string            `json:"name"`
	Parent   string            `json:"parent,omitempty"`
	ParentID string            `json:"parent_id,omitempty"` // for reading the store with ls and cat
	Labels   map[string]string `json:"labels,omitempty"`
	Created  time.Time         `json:"created"`
	Updated  time.Time         `json:"updated"`
	Usage    *Usage            `json:"usage,omitempty"` // measured at Commit
}

func (r *record) info() Info {
	info := Info{Kind: ParseKind(r.Kind), Name: r.Name, Parent: r.Parent, Created: r.Created, Updated: r.Updated}
	if len(r.Labels) > 0 {
		info.Labels = make(map[string]string, len(r.Labels))
		for k, v := range r.Labels {
			info.Labels[k] = v
		}
	}
	return info
}

// writeRecord replaces dir/info.json atomically and durably.
func writeRecord(dir string, r *record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(dir, infoFile, append(b, '\n'))
}

func readRecord(dir string) (*record, error) {
	b, err := os.ReadFile(filepath.Join(dir, infoFile))
	if err != nil {
		return nil, err
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, infoFile), err)
	}
	if r.ID != filepath.Base(dir) || ParseKind(r.Kind) == KindUnknown || r.Name == "" {
		return nil, fmt.Errorf("%s: id %q, kind %q or name %q is not valid", filepath.Join(dir, infoFile), r.ID, r.Kind, r.Name)
	}
	return &r, nil
}

// writeFileAtomic writes dir/name so that a crash leaves either the old or the
// new content: temp file, fsync, rename, fsync of the directory.
func writeFileAtomic(dir, name string, data []byte) error {
	return atomicfile.WriteFile(filepath.Join(dir, name), data, 0o600)
}

func syncDir(dir string) error { return atomicfile.SyncDir(dir) }

// syncFS flushes the filesystem holding dir, so that a committed layer's
// file contents survive a power cut as its info.json does.
func syncFS(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}

// lockRoot takes the store's lock file, so two processes never share a root.
// The lock dies with the process, kill -9 included.
func lockRoot(root string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(root, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("snapshot store %s is in use by another process (one gorae daemon per data root)", root)
		}
		return nil, fmt.Errorf("flock %s/lock: %w", root, err)
	}
	return f, nil
}

// loadSnapshots reads every record under dir (ROOT/snapshots) and deletes
// what a crash left half-made. It returns the records and the highest ID
// seen, so new IDs never collide with a directory still on disk.
func loadSnapshots(dir string) (map[string]*record, uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, err
	}
	recs := make(map[string]*record)
	var maxID uint64
	for _, e := range ents {
		name := e.Name()
		idStr := strings.TrimPrefix(name, removingPfx)
		id, err := strconv.ParseUint(idStr, 10, 64)
		if err != nil || !e.IsDir() {
			continue // not ours; leave it alone
		}
		maxID = max(maxID, id)
		path := filepath.Join(dir, name)
		if idStr != name {
			if err := os.RemoveAll(path); err != nil {
				return nil, 0, fmt.Errorf("finishing removal of %s: %w", path, err)
			}
			continue
		}
		removeTemps(path)
		r, err := readRecord(path)
		if errors.Is(err, os.ErrNotExist) {
			// Created but never made visible: a crash during Prepare or View.
			if err := os.RemoveAll(path); err != nil {
				return nil, 0, fmt.Errorf("removing half-made snapshot %s: %w", path, err)
			}
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("snapshot store damaged: %w (move %s out of the store to continue without it)", err, path)
		}
		if prev, dup := recs[r.Name]; dup {
			return nil, 0, fmt.Errorf("snapshot store damaged: %q is both snapshot %s and %s (move one out of %s)", r.Name, prev.ID, r.ID, dir)
		}
		if r.Kind == KindCommitted.String() {
			// A crash between Commit's record update and its cleanup.
			os.RemoveAll(filepath.Join(path, workDir))
		}
		recs[r.Name] = r
	}
	return recs, maxID, nil
}

// removeTemps deletes the temporary files an interrupted write left in dir.
func removeTemps(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), atomicfile.TempPrefix) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
