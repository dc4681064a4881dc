// Package volume is the local volume driver: named and anonymous volumes
// under <data-root>/volumes/<name>/_data, their metadata on disk, the
// containers that use them, and the mounts their driver options ask for
// (type/o/device, mounted for the first running user and unmounted
// after the last, as Docker's local driver). It knows nothing of HTTP.
package volume

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorae/gorae/internal/atomicfile"
	"github.com/gorae/gorae/internal/errdefs"
)

const (
	// DefaultDriver is the only driver there is.
	DefaultDriver = "local"
	// AnonymousLabel marks volumes made for one container (Docker's
	// label): prune removes only those unless asked for all.
	AnonymousLabel = "com.docker.volume.anonymous"

	metaFile = "volume.json"
	dataDir  = "_data"
)

// Docker's rule for local volume names; it also keeps `/` and `..` out.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// ValidateName refuses what the local driver cannot store as a directory.
func ValidateName(name string) error {
	if !validName.MatchString(name) || len(name) > 255 {
		return errdefs.InvalidParameter(fmt.Errorf("create %s: %q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path", name, name))
	}
	return nil
}

// Volume is one volume's record, its on-disk form (volume.json).
type Volume struct {
	Name      string            `json:"Name"`
	Driver    string            `json:"Driver"`
	Labels    map[string]string `json:"Labels"`
	Options   map[string]string `json:"Options"`
	CreatedAt time.Time         `json:"CreatedAt"`

	mountpoint string
}

// Mountpoint is the directory containers see.
func (v *Volume) Mountpoint() string { return v.mountpoint }

// Anonymous says the volume was made for one container, without a name.
func (v *Volume) Anonymous() bool {
	_, ok := v.Labels[AnonymousLabel]
	return ok
}

// CreateOptions are what a volume is made with.
type CreateOptions struct {
	Driver  string
	Options map[string]string
	Labels  map[string]string
}

// Store holds the volumes of one data root. Users (containers that
// reference a volume) and active users (running ones) are in memory: the
// container records are their truth, replayed at daemon start.
type Store struct {
	root    string
	mounter mounter

	mu     sync.Mutex
	vols   map[string]*Volume
	users  map[string]map[string]bool // volume → container IDs
	active map[string]map[string]bool // volume → running container IDs
}

// Open loads the volumes under root, finishing what a crash interrupted:
// half-made volumes and half-removed ones are cleared away.
func Open(root string) (*Store, error) {
	return open(root, sysMounter{})
}

func open(root string, m mounter) (*Store, error) {
	if err := os.MkdirAll(root, 0o701); err != nil {
		return nil, fmt.Errorf("volume store %s: %w", root, err)
	}
	s := &Store{root: root, mounter: m, vols: map[string]*Volume{}, users: map[string]map[string]bool{}, active: map[string]map[string]bool{}}
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("volume store %s: %w", root, err)
	}
	for _, e := range ents {
		p := filepath.Join(root, e.Name())
		if strings.HasPrefix(e.Name(), atomicfile.TempPrefix) {
			if err := s.removeDir(p); err != nil {
				slog.Warn("leftover of an interrupted volume create or remove", "dir", p, "err", err)
			}
			continue
		}
		if !e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(p, metaFile))
		v := &Volume{}
		if err == nil {
			err = json.Unmarshal(b, v)
		}
		if err != nil || v.Name != e.Name() {
			slog.Warn("unreadable volume record, skipped", "dir", p, "err", err)
			continue
		}
		v.mountpoint = filepath.Join(p, dataDir)
		s.vols[v.Name] = v
	}
	return s, nil
}

// Root is the directory that holds every volume.
func (s *Store) Root() string { return s.root }

// Create makes a volume, or returns the existing one of that name
// (created false). An empty name draws a random one. user, when not
// empty, becomes a user of the volume in the same step, so no remove can
// slip in between.
func (s *Store) Create(name string, opts CreateOptions, user string) (_ *Volume, created bool, _ error) {
	if opts.Driver == "" {
		opts.Driver = DefaultDriver
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == "" {
		name = randomName()
	}
	if v, ok := s.vols[name]; ok {
		if v.Driver != opts.Driver {
			return nil, false, errdefs.Conflict(fmt.Errorf("create %s: volume name must be unique: a volume %s exists with driver %s", name, name, v.Driver))
		}
		s.addUser(name, user)
		return v, false, nil
	}
	if err := ValidateName(name); err != nil {
		return nil, false, err
	}
	if opts.Driver != DefaultDriver {
		return nil, false, errdefs.NotFound(fmt.Errorf("create %s: error looking up volume plugin %s: plugin %q not found (gorae has only the local driver)", name, opts.Driver, opts.Driver))
	}
	if err := ValidateOptions(opts.Options); err != nil {
		return nil, false, fmt.Errorf("create %s: %w", name, err)
	}
	v := &Volume{Name: name, Driver: opts.Driver, Labels: opts.Labels, Options: opts.Options, CreatedAt: time.Now().UTC().Truncate(time.Second)}
	if err := s.write(v); err != nil {
		return nil, false, err
	}
	s.vols[name] = v
	s.addUser(name, user)
	return v, true, nil
}

// write makes the volume's directory in a temporary place and renames
// it into view: a crash leaves either no volume or a whole one.
func (s *Store) write(v *Volume) error {
	tmp, err := os.MkdirTemp(s.root, atomicfile.TempPrefix+v.Name+"-")
	if err != nil {
		return fmt.Errorf("create volume %s: %w", v.Name, err)
	}
	b, _ := json.Marshal(v)
	err = os.Chmod(tmp, 0o701)
	if err == nil {
		err = os.Mkdir(filepath.Join(tmp, dataDir), 0o755)
	}
	if err == nil {
		err = atomicfile.WriteFile(filepath.Join(tmp, metaFile), b, 0o600)
	}
	final := filepath.Join(s.root, v.Name)
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err == nil {
		err = atomicfile.SyncDir(s.root)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("create volume %s: %w", v.Name, err)
	}
	v.mountpoint = filepath.Join(final, dataDir)
	return nil
}

func randomName() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func notFound(name string) error {
	return errdefs.NotFound(fmt.Errorf("get %s: no such volume", name))
}

// Get returns the named volume.
func (s *Store) Get(name string) (*Volume, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok {
		return nil, notFound(name)
	}
	return v, nil
}

// List returns every volume, by name.
func (s *Store) List() []*Volume {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Volume, 0, len(s.vols))
	for _, v := range s.vols {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Users returns the containers that reference the volume, sorted.
func (s *Store) Users(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedKeys(s.users[name])
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s *Store) addUser(name, user string) {
	if user == "" {
		return
	}
	if s.users[name] == nil {
		s.users[name] = map[string]bool{}
	}
	s.users[name][user] = true
}

// AddUser records that a container references the volume.
func (s *Store) AddUser(name, user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.vols[name]; !ok {
		return notFound(name)
	}
	s.addUser(name, user)
	return nil
}

// RemoveUser forgets a container's reference (a no-op if there is none).
func (s *Store) RemoveUser(name, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.users[name], user)
	if len(s.users[name]) == 0 {
		delete(s.users, name)
	}
}

// Remove deletes a volume that no container references.
func (s *Store) Remove(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok {
		return notFound(name)
	}
	if u := s.users[name]; len(u) > 0 {
		return errdefs.Conflict(fmt.Errorf("remove %s: volume is in use - [%s]", name, strings.Join(sortedKeys(u), ", ")))
	}
	dir := filepath.Join(s.root, name)
	// A mount of the driver's options outlived its users (a crash):
	// undo it, or the removal would delete what the device holds.
	if mounted, _ := s.mounter.mounted(v.mountpoint); mounted {
		if err := s.mounter.unmount(v.mountpoint); err != nil {
			return fmt.Errorf("remove %s: unmount %s: %w", name, v.mountpoint, err)
		}
	}
	gone := filepath.Join(s.root, atomicfile.TempPrefix+"rm-"+name+"-"+randomName()[:8])
	if err := os.Rename(dir, gone); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	delete(s.vols, name)
	delete(s.active, name)
	atomicfile.SyncDir(s.root)
	if err := s.removeDir(gone); err != nil {
		// The volume is gone from view; its data is cleared at the
		// next start.
		slog.Warn("remove volume data", "volume", name, "dir", gone, "err", err)
	}
	return nil
}

// removeDir deletes a volume directory, but never through a mount: a
// bind device's files are the user's, not ours.
func (s *Store) removeDir(dir string) error {
	data := filepath.Join(dir, dataDir)
	if mounted, err := s.mounter.mounted(data); err != nil {
		return err
	} else if mounted {
		if err := s.mounter.unmount(data); err != nil {
			return fmt.Errorf("unmount %s: %w", data, err)
		}
	}
	return os.RemoveAll(dir)
}

// Mount makes the volume ready for a running container and returns the
// directory to bind: with driver options, the first running user mounts
// the device there.
func (s *Store) Mount(name, user string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok {
		return "", notFound(name)
	}
	if len(s.active[name]) == 0 && hasMountOptions(v.Options) {
		if mounted, _ := s.mounter.mounted(v.mountpoint); !mounted {
			if err := s.mounter.mount(v.Options, v.mountpoint); err != nil {
				return "", fmt.Errorf("mount volume %s: %w", name, err)
			}
		}
	}
	if s.active[name] == nil {
		s.active[name] = map[string]bool{}
	}
	s.active[name][user] = true
	return v.mountpoint, nil
}

// Unmount ends a running container's use; the last one unmounts the
// device of the driver's options.
func (s *Store) Unmount(name, user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok || !s.active[name][user] {
		return nil
	}
	delete(s.active[name], user)
	if len(s.active[name]) > 0 {
		return nil
	}
	delete(s.active, name)
	if !hasMountOptions(v.Options) {
		return nil
	}
	if mounted, _ := s.mounter.mounted(v.mountpoint); mounted {
		if err := s.mounter.unmount(v.mountpoint); err != nil {
			return fmt.Errorf("unmount volume %s: %w", name, err)
		}
	}
	return nil
}

// Active counts the running containers that use the volume.
func (s *Store) Active(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.active[name])
}

// UnmountIdle unmounts the devices of volumes no running container uses:
// after a daemon restart, what the last daemon left mounted for
// containers that have since stopped.
func (s *Store) UnmountIdle() {
	for _, v := range s.List() {
		if !hasMountOptions(v.Options) || s.Active(v.Name) > 0 {
			continue
		}
		if mounted, _ := s.mounter.mounted(v.mountpoint); mounted {
			if err := s.mounter.unmount(v.mountpoint); err != nil {
				slog.Warn("unmount idle volume", "volume", v.Name, "err", err)
			}
		}
	}
}

// Size is what the volume's files hold, as Docker counts it: file
// sizes, directories not counted, hard links once.
func (s *Store) Size(name string) (int64, error) {
	v, err := s.Get(name)
	if err != nil {
		return 0, err
	}
	var size int64
	seen := map[uint64]bool{}
	err = filepath.WalkDir(v.mountpoint, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil || fi.Size() == 0 {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		size += fi.Size()
		return nil
	})
	return size, err
}
