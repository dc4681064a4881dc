package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/gorae/gorae/internal/atomicfile"

	"github.com/gorae/gorae/internal/errdefs"
)

const recordFile = "config.v2.json"

// Store keeps every container record in memory and on disk under
// root/<id>/config.v2.json (Docker's file name, so habits carry over).
type Store struct {
	root string

	mu     sync.RWMutex
	byID   map[string]*Container
	byName map[string]string // "/name" → id
}

// Open loads every record under root. A record that does not parse is
// logged and skipped, never fatal: one corrupt file must not keep the
// daemon from starting.
func Open(root string) (*Store, error) {
	if err := os.MkdirAll(root, 0o710); err != nil {
		return nil, fmt.Errorf("container store %s: %w", root, err)
	}
	s := &Store{root: root, byID: map[string]*Container{}, byName: map[string]string{}}
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("container store %s: %w", root, err)
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		p := filepath.Join(root, e.Name(), recordFile)
		b, err := os.ReadFile(p)
		if err != nil {
			slog.Warn("container without a record, skipped", "dir", filepath.Join(root, e.Name()), "err", err)
			continue
		}
		c := &Container{}
		if err := json.Unmarshal(b, c); err != nil || c.ID != e.Name() {
			slog.Warn("unreadable container record, skipped", "file", p, "err", err)
			continue
		}
		c.init()
		s.byID[c.ID] = c
		s.byName[c.Name] = c.ID
	}
	return s, nil
}

// Dir is the directory of a container's files.
func (s *Store) Dir(id string) string { return filepath.Join(s.root, id) }

var validName = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// NormalizeName checks a user-given name and adds the leading slash.
func NormalizeName(name string) (string, error) {
	if !validName.MatchString(name) {
		return "", errdefs.InvalidParameter(fmt.Errorf("invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name))
	}
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	return name, nil
}

// Add registers a new container under its name and saves it. The name is
// reserved atomically: of two creates with one name, one gets a conflict.
func (s *Store) Add(c *Container) error {
	s.mu.Lock()
	if id, taken := s.byName[c.Name]; taken {
		s.mu.Unlock()
		return errdefs.Conflict(fmt.Errorf("Conflict. The container name %q is already in use by container %q. You have to remove (or rename) that container to be able to reuse that name.", c.Name, id))
	}
	s.byName[c.Name] = c.ID
	s.byID[c.ID] = c
	s.mu.Unlock()
	if err := os.MkdirAll(s.Dir(c.ID), 0o710); err != nil {
		s.remove(c)
		return fmt.Errorf("create container directory: %w", err)
	}
	if err := s.Save(c); err != nil {
		s.remove(c)
		os.RemoveAll(s.Dir(c.ID))
		return err
	}
	return nil
}

// Save writes the record crash-safely.
func (s *Store) Save(c *Container) error {
	c.mu.Lock()
	b, err := json.Marshal(c)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.Dir(c.ID), recordFile), b)
}

// Rename changes a container's name, refusing a taken one.
func (s *Store) Rename(c *Container, newName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, taken := s.byName[newName]; taken {
		return errdefs.Conflict(fmt.Errorf("Conflict. The container name %q is already in use by container %q. You have to remove (or rename) that container to be able to reuse that name.", newName, id))
	}
	c.mu.Lock()
	old := c.Name
	c.Name = newName
	c.mu.Unlock()
	delete(s.byName, old)
	s.byName[newName] = c.ID
	return nil
}

// Delete forgets a container and removes its directory.
func (s *Store) Delete(c *Container) error {
	s.remove(c)
	if err := os.RemoveAll(s.Dir(c.ID)); err != nil {
		return fmt.Errorf("remove container directory %s: %w", s.Dir(c.ID), err)
	}
	c.SetRemoved()
	return nil
}

func (s *Store) remove(c *Container) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, c.ID)
	if s.byName[c.Name] == c.ID {
		delete(s.byName, c.Name)
	}
}

// Get finds a container as Docker does: full ID, then exact name, then
// a unique ID prefix.
func (s *Store) Get(ref string) (*Container, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if ref == "" {
		return nil, errdefs.InvalidParameter(errors.New("no container name or ID given"))
	}
	if c, ok := s.byID[ref]; ok {
		return c, nil
	}
	name := ref
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	if id, ok := s.byName[name]; ok {
		return s.byID[id], nil
	}
	var found *Container
	for id, c := range s.byID {
		if strings.HasPrefix(id, ref) {
			if found != nil {
				return nil, errdefs.InvalidParameter(fmt.Errorf("multiple IDs found with provided prefix: %s", ref))
			}
			found = c
		}
	}
	if found == nil {
		return nil, errdefs.NotFound(fmt.Errorf("No such container: %s", ref))
	}
	return found, nil
}

// List returns all containers, newest first (as `docker ps`).
func (s *Store) List() []*Container {
	s.mu.RLock()
	out := make([]*Container, 0, len(s.byID))
	for _, c := range s.byID {
		out = append(out, c)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

func writeFileAtomic(path string, data []byte) error {
	return atomicfile.WriteFile(path, data, 0o600)
}
