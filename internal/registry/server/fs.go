package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/gorae/gorae/internal/atomicfile"
	"github.com/gorae/gorae/internal/content"
)

// Layout of an FS under its root (docs/registry.md):
//
//	blobs/sha256/<hex>                           every blob's bytes, once (internal/content)
//	ingest/                                      uploads in progress (internal/content)
//	repositories/<name>/_layers/sha256/<hex>     empty: the blob belongs to the repository
//	repositories/<name>/_manifests/revisions/sha256/<hex>   the manifest's media type
//	repositories/<name>/_manifests/tags/<tag>    the digest the tag points at
//	repositories/<name>/_referrers/sha256/<subject hex>/<hex>   the referrer's descriptor (JSON)
//	gc.lock                                      flock: shared by pushes, exclusive for gc
//
// Components of a valid name never begin with "_", so the link
// directories cannot collide with a nested repository.
const (
	reposDir     = "repositories"
	layersDir    = "_layers"
	manifestsDir = "_manifests"
	referrersDir = "_referrers"
	lockFile     = "gc.lock"
	dirMode      = 0o755
	fileMode     = 0o644
)

// DefaultUploadTTL is how long an upload session may stay idle before it
// is discarded.
const DefaultUploadTTL = time.Hour

// FS is the registry's read-write storage in a directory. Blobs are
// shared by all repositories (stored once) and reached through per-repo
// links, so a blob deleted from one repository stays in the others, and
// gc reclaims bytes no repository's manifest references.
type FS struct {
	root string
	cs   *content.Local
	// UploadTTL bounds the idle time of an upload session.
	UploadTTL time.Duration

	mu      sync.Mutex
	uploads map[string]*upload
}

type upload struct {
	mu       sync.Mutex
	repo     string
	w        content.Writer // nil once finished
	lastUsed time.Time
}

var _ Writable = (*FS)(nil)

// NewFS opens (creating if needed) a registry storage at root. Uploads a
// killed server left are removed: they were never visible.
func NewFS(root string) (*FS, error) {
	cs, err := content.NewLocal(root)
	if err != nil {
		return nil, fmt.Errorf("registry storage: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(root, reposDir), dirMode); err != nil {
		return nil, fmt.Errorf("registry storage: %w", err)
	}
	return &FS{root: root, cs: cs, UploadTTL: DefaultUploadTTL, uploads: map[string]*upload{}}, nil
}

// Root is the storage's directory.
func (s *FS) Root() string { return s.root }

func (s *FS) repoPath(repo string, elem ...string) string {
	return filepath.Join(append([]string{s.root, reposDir, filepath.FromSlash(repo)}, elem...)...)
}

func (s *FS) layerLink(repo string, d digest.Digest) string {
	return s.repoPath(repo, layersDir, string(d.Algorithm()), d.Encoded())
}

func (s *FS) revisionLink(repo string, d digest.Digest) string {
	return s.repoPath(repo, manifestsDir, "revisions", string(d.Algorithm()), d.Encoded())
}

func (s *FS) tagLink(repo, tag string) string {
	return s.repoPath(repo, manifestsDir, "tags", tag)
}

func (s *FS) referrerLink(repo string, subject, d digest.Digest) string {
	return s.repoPath(repo, referrersDir, string(subject.Algorithm()), subject.Encoded(), d.Encoded())
}

// writeLink writes a small file crash-safely, creating its directory.
func writeLink(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data, fileMode)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// isRepo says whether dir holds a repository (anything pushed to it).
func isRepo(dir string) bool {
	return exists(filepath.Join(dir, manifestsDir)) || exists(filepath.Join(dir, layersDir))
}

// Repositories walks repositories/ for directories that hold links.
func (s *FS) Repositories(ctx context.Context) ([]string, error) {
	base := filepath.Join(s.root, reposDir)
	var out []string
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if strings.HasPrefix(d.Name(), "_") {
			return filepath.SkipDir
		}
		if p != base && isRepo(p) {
			rel, _ := filepath.Rel(base, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("registry storage: list repositories: %w", err)
	}
	slices.Sort(out)
	return out, nil
}

// Tags lists the tag links of repo.
func (s *FS) Tags(ctx context.Context, repo string) ([]string, error) {
	if !isRepo(s.repoPath(repo)) {
		return nil, Errorf(CodeNameUnknown, "repository %q is not known to this registry", repo)
	}
	entries, err := os.ReadDir(s.repoPath(repo, manifestsDir, "tags"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("registry storage: tags of %s: %w", repo, err)
	}
	tags := []string{}
	for _, e := range entries {
		if !e.IsDir() && ValidTag(e.Name()) {
			tags = append(tags, e.Name())
		}
	}
	slices.Sort(tags)
	return tags, nil
}

func manifestUnknown(repo, ref string) error {
	return Errorf(CodeManifestUnknown, "manifest %s is not in repository %s", ref, repo)
}

func blobUnknown(repo string, d digest.Digest) error {
	return Errorf(CodeBlobUnknown, "blob %s is not in repository %s", d, repo)
}

// resolve turns a tag or digest into the digest of a manifest of repo.
func (s *FS) resolve(repo, ref string) (digest.Digest, error) {
	if ValidTag(ref) {
		data, err := os.ReadFile(s.tagLink(repo, ref))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", manifestUnknown(repo, ref)
			}
			return "", fmt.Errorf("registry storage: read tag %s:%s: %w", repo, ref, err)
		}
		d, err := digest.Parse(strings.TrimSpace(string(data)))
		if err != nil {
			return "", fmt.Errorf("registry storage: tag %s:%s holds %q: %w", repo, ref, data, err)
		}
		return d, nil
	}
	return parseDigest(ref)
}

// Manifest reads a manifest of repo by tag or digest.
func (s *FS) Manifest(ctx context.Context, repo, ref string) (*Manifest, error) {
	d, err := s.resolve(repo, ref)
	if err != nil {
		return nil, err
	}
	mt, err := os.ReadFile(s.revisionLink(repo, d))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, manifestUnknown(repo, ref)
		}
		return nil, fmt.Errorf("registry storage: manifest %s@%s: %w", repo, d, err)
	}
	data, err := content.ReadBlob(ctx, s.cs, d, MaxManifestSize)
	if err != nil {
		if errors.Is(err, content.ErrNotFound) {
			return nil, manifestUnknown(repo, ref)
		}
		return nil, fmt.Errorf("registry storage: manifest %s@%s: %w", repo, d, err)
	}
	return &Manifest{Descriptor: ocispec.Descriptor{MediaType: string(mt), Digest: d, Size: int64(len(data))}, Data: data}, nil
}

// StatBlob checks the repository's link and the blob's bytes.
func (s *FS) StatBlob(ctx context.Context, repo string, d digest.Digest) (int64, error) {
	return statBlob(ctx, s.cs, repo, d, s.hasBlob(repo, d))
}

// hasBlob: a blob of repo is one linked as a layer or a manifest there.
func (s *FS) hasBlob(repo string, d digest.Digest) bool {
	return exists(s.layerLink(repo, d)) || exists(s.revisionLink(repo, d))
}

// OpenBlob opens a blob of repo. The result gives its *os.File to the
// handler, so that a pull is sent with sendfile(2).
func (s *FS) OpenBlob(ctx context.Context, repo string, d digest.Digest) (content.ReaderAt, error) {
	if !s.hasBlob(repo, d) {
		return nil, blobUnknown(repo, d)
	}
	f, err := os.Open(s.blobPath(d))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, blobUnknown(repo, d)
		}
		return nil, fmt.Errorf("registry storage: open blob %s: %w", d, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("registry storage: stat blob %s: %w", d, err)
	}
	return fileBlob{File: f, size: fi.Size()}, nil
}

// fileBlob is a blob file open for reading.
type fileBlob struct {
	*os.File
	size int64
}

func (b fileBlob) Size() int64      { return b.size }
func (b fileBlob) OSFile() *os.File { return b.File }

func (s *FS) blobPath(d digest.Digest) string {
	return filepath.Join(s.cs.Root(), "blobs", string(d.Algorithm()), d.Encoded())
}

// Referrers reads the referrer links of subject.
func (s *FS) Referrers(ctx context.Context, repo string, subject digest.Digest) ([]ocispec.Descriptor, error) {
	dir := s.repoPath(repo, referrersDir, string(subject.Algorithm()), subject.Encoded())
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("registry storage: referrers of %s@%s: %w", repo, subject, err)
	}
	out := []ocispec.Descriptor{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), atomicfile.TempPrefix) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // deleted meanwhile
		}
		var d ocispec.Descriptor
		if json.Unmarshal(data, &d) != nil || d.Digest.Validate() != nil {
			continue
		}
		// A crash in DeleteManifest can leave the link of a deleted one.
		if exists(s.revisionLink(repo, d.Digest)) {
			out = append(out, d)
		}
	}
	return out, nil
}

// --- uploads ---

// StartUpload opens an ingest in the content store for a new session.
func (s *FS) StartUpload(ctx context.Context, repo string) (string, error) {
	s.expireUploads()
	w, err := s.cs.Writer(ctx)
	if err != nil {
		return "", err
	}
	var b [16]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	s.mu.Lock()
	s.uploads[id] = &upload{repo: repo, w: w, lastUsed: time.Now()}
	s.mu.Unlock()
	return id, nil
}

// expireUploads aborts sessions idle for longer than UploadTTL, so that
// abandoned pushes do not hold files and descriptors for ever.
func (s *FS) expireUploads() {
	cutoff := time.Now().Add(-s.UploadTTL)
	s.mu.Lock()
	var stale []*upload
	for id, u := range s.uploads {
		if u.mu.TryLock() {
			if u.lastUsed.Before(cutoff) {
				delete(s.uploads, id)
				stale = append(stale, u)
			}
			u.mu.Unlock()
		}
	}
	s.mu.Unlock()
	for _, u := range stale {
		u.mu.Lock()
		u.finish()
		u.mu.Unlock()
	}
}

func (u *upload) finish() {
	if u.w != nil {
		u.w.Abort()
		u.w = nil
	}
}

// session finds and locks upload id of repo; the caller unlocks.
func (s *FS) session(repo, id string) (*upload, error) {
	s.mu.Lock()
	u := s.uploads[id]
	s.mu.Unlock()
	if u == nil || u.repo != repo {
		return nil, Errorf(CodeBlobUploadUnknown, "upload %q is not in progress in repository %s (it finished, was cancelled or expired: start a new one)", id, repo)
	}
	u.mu.Lock()
	if u.w == nil {
		u.mu.Unlock()
		return nil, Errorf(CodeBlobUploadUnknown, "upload %q has ended", id)
	}
	u.lastUsed = time.Now()
	return u, nil
}

// UploadSize is the number of bytes the session holds.
func (s *FS) UploadSize(ctx context.Context, repo, id string) (int64, error) {
	u, err := s.session(repo, id)
	if err != nil {
		return 0, err
	}
	defer u.mu.Unlock()
	return u.w.Size(), nil
}

// AppendUpload streams r into the session's ingest.
func (s *FS) AppendUpload(ctx context.Context, repo, id string, offset int64, r io.Reader) (int64, error) {
	u, err := s.session(repo, id)
	if err != nil {
		return 0, err
	}
	defer u.mu.Unlock()
	size := u.w.Size()
	if offset >= 0 && offset != size {
		return size, &Error{Code: CodeRangeInvalid, Message: fmt.Sprintf("chunk starts at byte %d but the upload holds %d bytes: send the chunk that starts at %d", offset, size, size), Status: 416}
	}
	src := &trackedReader{r: r}
	if _, err := io.Copy(u.w, src); err != nil {
		if src.err == nil {
			// Our side failed (disk): the upload cannot go on.
			s.endSessionLocked(id, u)
			return 0, err
		}
		// The client's side broke off: what arrived before is intact
		// and stays, so the client can ask where the upload is (GET)
		// and resume from there, as distribution allows.
		return u.w.Size(), Errorf(CodeBlobUploadInvalid, "upload %s: chunk broke off after %d bytes in all: %v (GET the upload for its Range and resume)", id, u.w.Size(), src.err)
	}
	return u.w.Size(), nil
}

// trackedReader remembers the error of its source, to tell a client
// that broke off from a failing disk.
type trackedReader struct {
	r   io.Reader
	err error
}

func (t *trackedReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}

func (s *FS) endSessionLocked(id string, u *upload) {
	u.finish()
	s.mu.Lock()
	delete(s.uploads, id)
	s.mu.Unlock()
}

// FinishUpload verifies and commits the session's blob, then links it.
func (s *FS) FinishUpload(ctx context.Context, repo, id string, d digest.Digest) error {
	u, err := s.session(repo, id)
	if err != nil {
		return err
	}
	defer u.mu.Unlock()
	w := u.w
	u.w = nil // Commit finishes the writer, successful or not
	defer s.endSessionLocked(id, u)
	err = w.Commit(ctx, -1, d)
	switch {
	case err == nil, errors.Is(err, content.ErrAlreadyExists):
	case errors.Is(err, content.ErrDigestMismatch):
		return Errorf(CodeDigestInvalid, "upload %s: %v", id, err)
	default:
		return err
	}
	return s.linkBlob(repo, d)
}

// linkBlob makes the content store's blob d a blob of repo. It holds the
// gc lock shared and renews the blob's ctime, so a gc that starts later
// counts the blob as fresh and spares it for its grace period.
func (s *FS) linkBlob(repo string, d digest.Digest) error {
	unlock, err := s.lock(unix.LOCK_SH)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.touch(d); err != nil {
		return err
	}
	return writeLink(s.layerLink(repo, d), nil)
}

// touch renews the ctime gc reads as a blob's commit time.
func (s *FS) touch(d digest.Digest) error {
	if err := os.Chmod(s.blobPath(d), 0o444); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Errorf(CodeBlobUnknown, "blob %s is gone (collected meanwhile): push it again", d)
		}
		return fmt.Errorf("registry storage: %w", err)
	}
	return nil
}

// CancelUpload discards a session.
func (s *FS) CancelUpload(ctx context.Context, repo, id string) error {
	u, err := s.session(repo, id)
	if err != nil {
		return err
	}
	defer u.mu.Unlock()
	s.endSessionLocked(id, u)
	return nil
}

// MountBlob links a blob of from into repo.
func (s *FS) MountBlob(ctx context.Context, repo, from string, d digest.Digest) error {
	if _, err := s.StatBlob(ctx, from, d); err != nil {
		return err
	}
	return s.linkBlob(repo, d)
}

// --- manifests ---

// PutManifest writes the manifest's bytes to the content store, then its
// revision link, tag and referrer link, each atomically, holding the gc
// lock shared so that gc never sweeps between the check of its references
// and the link that makes them reachable.
func (s *FS) PutManifest(ctx context.Context, repo, tag string, m *ParsedManifest) error {
	if m.Subject != nil && m.Subject.Digest.Algorithm() != digest.SHA256 {
		return Errorf(CodeManifestInvalid, "subject %s: only sha256 is supported", m.Subject.Digest)
	}
	unlock, err := s.lock(unix.LOCK_SH)
	if err != nil {
		return err
	}
	defer unlock()
	var missing []digest.Digest
	for _, d := range m.Blobs {
		if !exists(s.layerLink(repo, d)) || !s.blobPresent(ctx, d) {
			missing = append(missing, d)
		}
	}
	for _, d := range m.Children {
		if !exists(s.revisionLink(repo, d)) {
			missing = append(missing, d)
		}
	}
	if len(missing) > 0 {
		return &Error{Code: CodeManifestBlobUnknown, Message: fmt.Sprintf("manifest references %s, not in repository %s: push the blobs (and child manifests) first", missing[0], repo),
			Detail: map[string]any{"digest": missing[0]}}
	}
	d := m.Descriptor.Digest
	if _, _, err := content.WriteBlob(ctx, s.cs, strings.NewReader(string(m.Data)), m.Descriptor.Size, d); err != nil {
		return err
	}
	if err := s.touch(d); err != nil {
		return err
	}
	if err := writeLink(s.revisionLink(repo, d), []byte(m.Descriptor.MediaType)); err != nil {
		return fmt.Errorf("registry storage: link manifest %s@%s: %w", repo, d, err)
	}
	if tag != "" {
		if err := writeLink(s.tagLink(repo, tag), []byte(d.String())); err != nil {
			return fmt.Errorf("registry storage: tag %s:%s: %w", repo, tag, err)
		}
	}
	if m.Subject != nil {
		data, _ := json.Marshal(m.Referrer)
		if err := writeLink(s.referrerLink(repo, m.Subject.Digest, d), data); err != nil {
			return fmt.Errorf("registry storage: referrer link of %s@%s: %w", repo, d, err)
		}
	}
	return nil
}

func (s *FS) blobPresent(ctx context.Context, d digest.Digest) bool {
	_, err := s.cs.Info(ctx, d)
	return err == nil
}

// DeleteManifest removes the tags pointing at dgst, its revision link,
// then its referrer link; its bytes go at the next gc. In that order a
// crash leaves at worst a referrer link whose manifest is gone, which
// Referrers skips.
func (s *FS) DeleteManifest(ctx context.Context, repo string, d digest.Digest) error {
	link := s.revisionLink(repo, d)
	if !exists(link) {
		return manifestUnknown(repo, d.String())
	}
	var subject *ocispec.Descriptor
	if m, err := s.Manifest(ctx, repo, d.String()); err == nil {
		if p, err := ParseManifest(m.Descriptor.MediaType, m.Data); err == nil {
			subject = p.Subject
		}
	}
	tags, err := s.Tags(ctx, repo)
	if err != nil {
		return err
	}
	for _, t := range tags {
		if td, err := s.resolve(repo, t); err == nil && td == d {
			if err := removeDurable(s.tagLink(repo, t)); err != nil {
				return err
			}
		}
	}
	if err := removeDurable(link); err != nil {
		return err
	}
	if subject != nil {
		return removeDurable(s.referrerLink(repo, subject.Digest, d))
	}
	return nil
}

// DeleteTag removes one tag link.
func (s *FS) DeleteTag(ctx context.Context, repo, tag string) error {
	p := s.tagLink(repo, tag)
	if !exists(p) {
		return manifestUnknown(repo, tag)
	}
	return removeDurable(p)
}

// DeleteBlob removes the repository's link to a blob.
func (s *FS) DeleteBlob(ctx context.Context, repo string, d digest.Digest) error {
	p := s.layerLink(repo, d)
	if !exists(p) {
		return blobUnknown(repo, d)
	}
	return removeDurable(p)
}

func removeDurable(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("registry storage: %w", err)
	}
	return atomicfile.SyncDir(filepath.Dir(p))
}

// lock takes the storage's gc lock (flock, so it works between the server
// and a `gorae registry gc` process).
func (s *FS) lock(how int) (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.root, lockFile), os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("registry storage: open gc lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("registry storage: flock gc lock: %w", err)
	}
	return func() { f.Close() }, nil
}
