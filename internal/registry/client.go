// Package registry is gorae's distribution client: it pulls images from
// registries into the content store and pushes them back, speaking the
// OCI distribution protocol (Docker's registry v2 API).
//
// go-containerregistry provides the connection: the /v2/ ping, the
// HTTPS-then-HTTP fallback, basic auth and the bearer token exchange
// (realm, service, scope, refresh on a 401 that asks for more scope).
// The requests themselves (manifests, blobs, uploads, mounts) are ours,
// because Docker's progress stream needs each layer's bytes as they move
// and each layer's fate (already there, mounted, pushed) as it is known.
package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"

	"github.com/gorae/gorae/internal/content"
)

// Errors of the client, for the daemon to classify.
var (
	// ErrNotFound: the repository, tag or manifest does not exist (or
	// the credentials do not let us see it: registries say "denied" for
	// both, so this is Docker's "pull access denied" case too).
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: the registry refused the credentials.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrDenied: the credentials are valid but may not do this (push to
	// someone else's repository).
	ErrDenied = errors.New("denied")
)

// Defaults of Client.
const (
	defaultDownloads = 3 // Docker's max-concurrent-downloads
	defaultUploads   = 5 // Docker's max-concurrent-uploads
	defaultAttempts  = 5 // Docker's max-download-attempts
)

// Client pulls and pushes images. It is safe for concurrent use.
type Client struct {
	// Content is where pulled blobs go and pushed blobs come from.
	Content content.Store
	// Hosts are mirrors and insecure registries.
	Hosts Hosts
	// Transport is the base HTTP transport; nil means a tuned clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
	// Downloads and Uploads bound the blobs transferred at once; 0 means
	// Docker's defaults (3 and 5).
	Downloads, Uploads int
	// Attempts is how many times a blob transfer is tried; 0 means 5.
	Attempts int
	// RetryDelay is the wait before the second attempt, doubling after;
	// 0 means one second.
	RetryDelay time.Duration
	// Metadata remembers where blobs came from and went, for
	// cross-repository mounts; nil disables mounts.
	Metadata *Metadata
	// UserAgent is sent with every request.
	UserAgent string
}

// defaultTransport is shared by clients without their own: one pool of
// connections per daemon. Larger buffers than net/http's 4 KiB cut the
// syscalls per byte moved, which is most of a loopback transfer's cost.
var defaultTransport = func() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 16
	t.WriteBufferSize = 256 << 10
	t.ReadBufferSize = 256 << 10
	t.ResponseHeaderTimeout = 2 * time.Minute
	return t
}()

func (c *Client) base() http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return defaultTransport
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// repo is one repository on one registry, with a connection authorised
// for the scopes asked.
type repo struct {
	ep     endpoint
	domain string // as references name it (docker.io)
	path   string // library/busybox
	client *http.Client
}

// url is the API URL of p under the repository ("manifests/latest").
// The scheme is https; go-containerregistry's transport rewrites it to
// http for a registry that answered the ping over plain HTTP.
func (r *repo) url(p string) string {
	return "https://" + r.ep.host + "/v2/" + r.path + "/" + p
}

// String is host/path, for messages and metadata.
func (r *repo) String() string { return r.ep.host + "/" + r.path }

// open connects to repository path on ep with the actions asked (pull,
// push) and, for mounts, pull access to the other repositories named.
func (c *Client) open(ctx context.Context, ep endpoint, domain, path string, auth *AuthConfig, actions string, extraPull ...string) (*repo, error) {
	var opts []name.Option
	if ep.insecure {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(ep.host, opts...)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", ep.host, err)
	}
	var scopes []string
	if path != "" {
		scopes = append(scopes, "repository:"+path+":"+actions)
	}
	for _, p := range extraPull {
		scopes = append(scopes, "repository:"+p+":pull")
	}
	base := c.base()
	if c.UserAgent != "" {
		base = transport.NewUserAgent(base, c.UserAgent)
	}
	rt, err := transport.NewWithContext(ctx, reg, auth.authenticator(), base, scopes)
	if err != nil {
		return nil, classify(fmt.Errorf("connect to registry %s: %w", ep.host, err))
	}
	return &repo{ep: ep, domain: domain, path: path, client: &http.Client{Transport: rt}}, nil
}

// do sends one request to the registry (prepare, if set, adds headers)
// and returns the response if its status is one of ok; otherwise the
// registry's error, classified, with the body closed.
func (r *repo) do(ctx context.Context, method, u string, body io.Reader, prepare func(*http.Request), ok ...int) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if prepare != nil {
		prepare(req)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	if err := transport.CheckError(resp, ok...); err != nil {
		resp.Body.Close()
		return nil, classify(err)
	}
	return resp, nil
}

// splitName is the domain and repository path of a reference.
func splitName(ref reference.Named) (domain, path string) {
	return reference.Domain(ref), reference.Path(ref)
}

// RefTarget is what a reference asks the registry for: a digest (which
// the manifest must then have) or a tag ("latest" if none).
func RefTarget(ref reference.Named) (tagOrDigest string, want digest.Digest) {
	if d, ok := ref.(reference.Digested); ok {
		return d.Digest().String(), d.Digest()
	}
	if t, ok := ref.(reference.Tagged); ok {
		return t.Tag(), ""
	}
	return "latest", ""
}

// classify wraps a registry's error with the client's error kinds, so the
// daemon can answer with Docker's status codes, and words it as Docker
// does ("manifest unknown: manifest unknown").
func classify(err error) error {
	var te *transport.Error
	if !errors.As(err, &te) {
		return err
	}
	kind := error(nil)
	for _, d := range te.Errors {
		switch d.Code {
		case transport.UnauthorizedErrorCode:
			kind = ErrUnauthorized
		case transport.DeniedErrorCode:
			kind = ErrDenied
		case transport.NameUnknownErrorCode, transport.ManifestUnknownErrorCode, transport.BlobUnknownErrorCode:
			kind = ErrNotFound
		}
		if kind != nil {
			break
		}
	}
	if kind == nil {
		switch te.StatusCode {
		case http.StatusUnauthorized:
			kind = ErrUnauthorized
		case http.StatusForbidden:
			kind = ErrDenied
		case http.StatusNotFound:
			kind = ErrNotFound
		}
	}
	return &Error{kind: kind, te: te}
}

// Error is a registry's error answer.
type Error struct {
	kind error // ErrNotFound, ErrUnauthorized, ErrDenied or nil
	te   *transport.Error
}

func (e *Error) Error() string {
	var parts []string
	for _, d := range e.te.Errors {
		msg := strings.ToLower(strings.ReplaceAll(string(d.Code), "_", " "))
		if d.Message != "" {
			msg += ": " + d.Message
		}
		parts = append(parts, msg)
	}
	if len(parts) > 0 {
		return strings.Join(parts, "; ")
	}
	msg := fmt.Sprintf("unexpected status %d %s", e.te.StatusCode, http.StatusText(e.te.StatusCode))
	if e.te.Request != nil {
		msg += " from " + e.te.Request.Method + " " + e.te.Request.URL.Redacted()
	}
	return msg
}

func (e *Error) Unwrap() []error {
	if e.kind == nil {
		return []error{e.te}
	}
	return []error{e.kind, e.te}
}

// HasCode reports whether err carries the registry's error code code
// (MANIFEST_UNKNOWN, NAME_UNKNOWN …).
func HasCode(err error, code string) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		for _, d := range te.Errors {
			if string(d.Code) == code {
				return true
			}
		}
	}
	return false
}

// retryable reports whether a failed transfer may succeed if tried
// again: network errors and the registry's 5xx and 429, not a refusal
// or a digest that does not match.
func retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var dm *content.DigestMismatchError
	var sm *content.SizeMismatchError
	if errors.As(err, &dm) || errors.As(err, &sm) {
		return false
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode >= 500 || te.StatusCode == http.StatusTooManyRequests
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, errTruncated) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "connection reset") || errors.Is(err, net.ErrClosed)
}

var errTruncated = errors.New("the registry closed the connection early")

// retry runs f up to c.Attempts times while its error is retryable,
// waiting between attempts; wait, if set, is told each wait.
func (c *Client) retry(ctx context.Context, f func() error, wait func(delay time.Duration)) error {
	attempts := orDefault(c.Attempts, defaultAttempts)
	delay := c.RetryDelay
	if delay <= 0 {
		delay = time.Second
	}
	var err error
	for i := 1; ; i++ {
		if err = f(); err == nil || !retryable(err) || i == attempts {
			return err
		}
		if wait != nil {
			wait(delay)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// parallel runs f on every item, at most n at once, and returns the first
// error; the first error cancels the others' context.
func parallel[T any](ctx context.Context, n int, items []T, f func(context.Context, T) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, it := range items {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(ctx, it); err != nil {
				once.Do(func() { first = err; cancel(err) })
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = context.Cause(ctx)
	}
	return first
}
