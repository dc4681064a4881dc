package server

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Htpasswd checks basic credentials against an htpasswd file of bcrypt
// entries (`htpasswd -B`), as distribution's htpasswd auth does.
type Htpasswd struct {
	users map[string][]byte // user → bcrypt hash

	mu sync.Mutex
	// ok remembers a verified password's sha256 per user: bcrypt costs
	// tens of milliseconds by design, and a push sends the credentials
	// with every request.
	ok map[string][32]byte
}

// LoadHtpasswd reads an htpasswd file.
func LoadHtpasswd(path string) (*Htpasswd, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("htpasswd: %w", err)
	}
	defer f.Close()
	h, err := ParseHtpasswd(f)
	if err != nil {
		return nil, fmt.Errorf("htpasswd %s: %w", path, err)
	}
	return h, nil
}

// ParseHtpasswd reads "user:hash" lines; blank lines and # comments are
// skipped. Only bcrypt hashes are accepted: the others htpasswd can make
// (MD5-crypt, SHA1, crypt) are too weak to protect a registry.
func ParseHtpasswd(r io.Reader) (*Htpasswd, error) {
	h := &Htpasswd{users: map[string][]byte{}, ok: map[string][32]byte{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("line %d: want user:hash", n)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("line %d (user %q): not a bcrypt hash (%v): make entries with htpasswd -B", n, user, err)
		}
		h.users[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(h.users) == 0 {
		return nil, fmt.Errorf("no users: add one with htpasswd -B")
	}
	return h, nil
}

// Check says whether user and password match an entry.
func (h *Htpasswd) Check(user, password string) bool {
	hash, ok := h.users[user]
	if !ok {
		// Same cost as a wrong password, so user names cannot be probed
		// by timing.
		bcrypt.CompareHashAndPassword([]byte("$2a$10$7EqJtq98hPqEX7fNZaFWoOhi5BWX4Z3OoXtrw.B6z9yS0aL0lz.6u"), []byte(password))
		return false
	}
	sum := sha256.Sum256([]byte(password))
	h.mu.Lock()
	known, cached := h.ok[user]
	h.mu.Unlock()
	if cached && subtle.ConstantTimeCompare(known[:], sum[:]) == 1 {
		return true
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		return false
	}
	h.mu.Lock()
	h.ok[user] = sum
	h.mu.Unlock()
	return true
}
