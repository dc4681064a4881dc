// Package api serves the Docker Engine API: each route decodes its
// request, makes one Backend call, and encodes the answer. Docker's
// semantics live behind Backend (internal/daemon), never here.
package api

import (
	"context"
	"io"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/system"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gorae/gorae/internal/image"
)

// Backend is the engine as the API sees it. Errors are classified with
// internal/errdefs; the API maps the class to Docker's status code.
type Backend interface {
	SystemBackend
	ContainerBackend
	ImageBackend
	VolumeBackend
	DistributionBackend
}

// SystemBackend answers /_ping, /version, /info, /events, /system/df.
type SystemBackend interface {
	Version(ctx context.Context) system.VersionResponse
	Info(ctx context.Context) (*system.Info, error)
	// Events streams events matching the filters from since until until
	// (zero: no bound; with until zero the stream stays open until ctx
	// ends). Past events come first, in order.
	Events(ctx context.Context, since, until time.Time, filters map[string][]string) (<-chan events.Message, error)
	DiskUsage(ctx context.Context) (*system.DiskUsage, error)
}

// ContainerBackend is /containers/…
type ContainerBackend interface {
	ContainerCreate(ctx context.Context, name string, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig, platform *ocispec.Platform) (container.CreateResponse, error)
	ContainerStart(ctx context.Context, ref string) error
	// ContainerStop sends signal (empty: the container's stop signal),
	// waits timeout seconds (nil: the container's StopTimeout, or 10),
	// then kills.
	ContainerStop(ctx context.Context, ref string, signal string, timeout *int) error
	ContainerRestart(ctx context.Context, ref string, signal string, timeout *int) error
	ContainerKill(ctx context.Context, ref string, signal string) error
	ContainerPause(ctx context.Context, ref string) error
	ContainerUnpause(ctx context.Context, ref string) error
	// ContainerWait returns at once with an error for an unknown
	// container; the channel then yields one response when cond holds.
	ContainerWait(ctx context.Context, ref string, cond container.WaitCondition) (<-chan container.WaitResponse, error)
	ContainerRemove(ctx context.Context, ref string, force, removeVolumes bool) error
	ContainerRename(ctx context.Context, ref, newName string) error
	ContainerInspect(ctx context.Context, ref string, size bool) (*container.InspectResponse, error)
	ContainerList(ctx context.Context, opts ContainerListOptions) ([]container.Summary, error)
	// ContainerLogs writes the log to w: Docker's multiplexed stream
	// unless the container has a tty (then raw). It returns when the log
	// is written (or, with Follow, when the container stops or ctx ends).
	ContainerLogs(ctx context.Context, ref string, opts LogOptions, w io.Writer) error
	// ContainerTTY is asked before the connection is hijacked, so
	// an unknown container is a plain 404 and the stream format is known.
	ContainerTTY(ctx context.Context, ref string) (bool, error)
	// ContainerAttach serves a hijacked connection until the container
	// stops or the client goes away.
	ContainerAttach(ctx context.Context, ref string, opts AttachOptions) error
	ContainerResize(ctx context.Context, ref string, height, width int) error
	ContainerTop(ctx context.Context, ref string, psArgs string) (*container.TopResponse, error)
	ContainerStats(ctx context.Context, ref string, stream, oneShot bool, w io.Writer) error
	ContainerUpdate(ctx context.Context, ref string, hc *container.UpdateConfig) (container.UpdateResponse, error)
	ContainerPrune(ctx context.Context, filters map[string][]string) (*container.PruneReport, error)
	ContainerExecCreate(ctx context.Context, ref string, req *container.ExecCreateRequest) (string, error)
	// ContainerExecStart runs the exec; without Detach it serves the
	// hijacked connection as attach does, until the process exits.
	ContainerExecStart(ctx context.Context, execID string, opts ExecStartOptions) error
	ContainerExecInspect(ctx context.Context, execID string) (*container.ExecInspectResponse, error)
	ContainerExecResize(ctx context.Context, execID string, height, width int) error
	// docker cp: stat, tar out, tar in.
	ContainerStatPath(ctx context.Context, ref, path string) (*container.PathStat, error)
	ContainerArchivePath(ctx context.Context, ref, path string, w io.Writer) error
	ContainerExtractToDir(ctx context.Context, ref, path string, noOverwriteDirNonDir bool, r io.Reader) error
	ContainerChanges(ctx context.Context, ref string) ([]container.FilesystemChange, error)
}

// ExecStartOptions are POST /exec/{id}/start's body and hijacked stream.
type ExecStartOptions struct {
	Detach, Tty bool
	Stdin       io.Reader
	Stdout      io.Writer
	CloseWrite  func() error
}

// ImageBackend is /images/…
type ImageBackend interface {
	ImageList(ctx context.Context, opts ImageListOptions) ([]image.Summary, error)
	ImageInspect(ctx context.Context, ref string) (*image.InspectResponse, error)
	ImageHistory(ctx context.Context, ref string) ([]image.HistoryItem, error)
	ImageTag(ctx context.Context, ref, repo, tag string) error
	ImageRemove(ctx context.Context, ref string, force, noPrune bool) ([]image.DeleteResponse, error)
	ImagePrune(ctx context.Context, filters map[string][]string) (*image.PruneReport, error)
	// ImageImport makes a one-layer image from a rootfs tarball
	// (`docker import`), applying Dockerfile-style changes; progress as
	// Docker's JSON message stream goes to w.
	ImageImport(ctx context.Context, src io.Reader, repo, tag string, changes []string, message string, platform *ocispec.Platform, w io.Writer) error
	// ImageSave writes the `docker save` tar of the named images.
	ImageSave(ctx context.Context, refs []string, w io.Writer) error
	// ImageLoad reads a `docker save` tar or OCI layout tar; progress as
	// JSON messages (or, quiet, only the result lines) goes to w.
	ImageLoad(ctx context.Context, r io.Reader, quiet bool, w io.Writer) error
	ContainerCommit(ctx context.Context, ref string, opts CommitOptions) (string, error)
	ContainerExport(ctx context.Context, ref string, w io.Writer) error
}

// ContainerListOptions are GET /containers/json's parameters.
type ContainerListOptions struct {
	All     bool
	Limit   int
	Size    bool
	Filters map[string][]string
}

// ImageListOptions are GET /images/json's parameters. Filters are
// Docker's (dangling, label, reference, before, since), for the daemon to
// apply: image.ListOptions.Filter is a func the API cannot build without
// knowing their semantics.
type ImageListOptions struct {
	All     bool
	Filters map[string][]string
}

// LogOptions are GET /containers/{id}/logs' parameters.
type LogOptions struct {
	Follow, Stdout, Stderr, Timestamps bool
	Since, Until                       time.Time
	// Tail: -1 for all.
	Tail int
}

// AttachOptions describe one attach: the hijacked connection's halves and
// what the client asked for.
type AttachOptions struct {
	Stdin        io.Reader // nil unless stdin=1
	Stdout       io.Writer // the client's connection; nil unless stdout=1 or stderr=1
	UseStdout    bool
	UseStderr    bool
	Logs, Stream bool
	DetachKeys   string
	CloseWrite   func() error // half-close towards the client, when supported
}

// CommitOptions are POST /commit's parameters.
type CommitOptions struct {
	Repo, Tag, Comment, Author string
	Changes                    []string
	Pause                      bool
	Config                     *container.Config
}
