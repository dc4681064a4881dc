package api

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	mimage "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/system"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gorae/gorae/internal/errdefs"
	"github.com/gorae/gorae/internal/image"
)

// call is one Backend call as the fake saw it.
type call struct {
	name string
	args []any
}

// fakeBackend records every call and answers with canned data. errs
// makes a method fail; panics makes it panic.
type fakeBackend struct {
	mu     sync.Mutex
	calls  []call
	errs   map[string]error
	panics map[string]bool

	tty        bool
	logs       string                         // written by ContainerLogs
	logsErr    error                          // returned after writing logs
	waitCh     chan container.WaitResponse    // nil: answer exit 0 at once
	events     []events.Message               // sent by Events, then the channel closes
	eventsOpen bool                           // keep the events channel open after them
	attach     func(opts AttachOptions) error // serves ContainerAttach
	containers map[string]container.Summary   // known to List, Inspect, Remove
	stats      func(w io.Writer) error        // writes ContainerStats
	load       func(r io.Reader, w io.Writer) error
}

func newFake() *fakeBackend {
	return &fakeBackend{errs: map[string]error{}, panics: map[string]bool{}, containers: map[string]container.Summary{
		"c1": {ID: "c1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Names: []string{"/web"}, Image: "busybox:latest",
			Command: "sleep 1000", Created: 1700000000, State: container.StateRunning, Status: "Up 5 minutes"},
	}}
}

func (f *fakeBackend) record(name string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{name, args})
	if f.panics[name] {
		panic("fake " + name + " panics")
	}
	return f.errs[name]
}

// last is the most recent call, or a zero call.
func (f *fakeBackend) last() call {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return call{}
	}
	return f.calls[len(f.calls)-1]
}

func (f *fakeBackend) called(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.ContainsFunc(f.calls, func(c call) bool { return c.name == name })
}

func notFound(kind, ref string) error {
	return errdefs.NotFound(fmt.Errorf("No such %s: %s", kind, ref))
}

// lookup finds a container by ID, ID prefix or name, as the daemon would.
func (f *fakeBackend) lookup(ref string) (container.Summary, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for key, c := range f.containers {
		if key == ref || c.ID == ref || (len(ref) >= 3 && len(ref) <= len(c.ID) && c.ID[:len(ref)] == ref) || slices.Contains(c.Names, "/"+ref) {
			return c, true
		}
	}
	return container.Summary{}, false
}

func (f *fakeBackend) Version(ctx context.Context) system.VersionResponse {
	_ = f.record("Version")
	return system.VersionResponse{
		Platform: system.PlatformInfo{Name: "gorae"}, Version: "0.1.0", Os: "linux", Arch: "amd64",
		Components: []system.ComponentVersion{{Name: "Engine", Version: "0.1.0", Details: map[string]string{"ApiVersion": APIVersion, "MinAPIVersion": MinAPIVersion}}},
		GoVersion:  "go1.26", KernelVersion: "6.1.0",
	}
}

func (f *fakeBackend) Info(ctx context.Context) (*system.Info, error) {
	if err := f.record("Info"); err != nil {
		return nil, err
	}
	return &system.Info{ID: "gorae", Containers: len(f.containers), Name: "testhost", ServerVersion: "0.1.0", OSType: "linux", Architecture: "x86_64", Driver: "overlayfs"}, nil
}

func (f *fakeBackend) Events(ctx context.Context, since, until time.Time, filters map[string][]string) (<-chan events.Message, error) {
	if err := f.record("Events", since, until, filters); err != nil {
		return nil, err
	}
	ch := make(chan events.Message)
	go func() {
		defer close(ch)
		for _, m := range f.events {
			select {
			case ch <- m:
			case <-ctx.Done():
				return
			}
		}
		if f.eventsOpen {
			<-ctx.Done()
		}
	}()
	return ch, nil
}

func (f *fakeBackend) DiskUsage(ctx context.Context) (*system.DiskUsage, error) {
	if err := f.record("DiskUsage"); err != nil {
		return nil, err
	}
	return &system.DiskUsage{
		ImageUsage:     &mimage.DiskUsage{TotalSize: 1234, Items: []mimage.Summary{{ID: "sha256:abc", Size: 1234, Containers: 1}}},
		ContainerUsage: &container.DiskUsage{Items: []container.Summary{f.containers["c1"]}},
	}, nil
}

func (f *fakeBackend) ContainerCreate(ctx context.Context, name string, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig, platform *ocispec.Platform) (container.CreateResponse, error) {
	if err := f.record("ContainerCreate", name, cfg, hc, nc, platform); err != nil {
		return container.CreateResponse{}, err
	}
	f.mu.Lock()
	id := fmt.Sprintf("%064d", len(f.calls))
	if name == "" {
		name = "auto" + id[60:]
	}
	f.containers[id] = container.Summary{ID: id, Names: []string{"/" + name}, Image: cfg.Image, State: container.StateCreated}
	f.mu.Unlock()
	return container.CreateResponse{ID: id}, nil
}

func (f *fakeBackend) ContainerStart(ctx context.Context, ref string) error {
	return f.record("ContainerStart", ref)
}

func (f *fakeBackend) ContainerStop(ctx context.Context, ref string, signal string, timeout *int) error {
	return f.record("ContainerStop", ref, signal, timeout)
}

func (f *fakeBackend) ContainerRestart(ctx context.Context, ref string, signal string, timeout *int) error {
	return f.record("ContainerRestart", ref, signal, timeout)
}

func (f *fakeBackend) ContainerKill(ctx context.Context, ref string, signal string) error {
	return f.record("ContainerKill", ref, signal)
}

func (f *fakeBackend) ContainerPause(ctx context.Context, ref string) error {
	return f.record("ContainerPause", ref)
}

func (f *fakeBackend) ContainerUnpause(ctx context.Context, ref string) error {
	return f.record("ContainerUnpause", ref)
}

func (f *fakeBackend) ContainerWait(ctx context.Context, ref string, cond container.WaitCondition) (<-chan container.WaitResponse, error) {
	if err := f.record("ContainerWait", ref, cond); err != nil {
		return nil, err
	}
	if f.waitCh != nil {
		return f.waitCh, nil
	}
	ch := make(chan container.WaitResponse, 1)
	ch <- container.WaitResponse{StatusCode: 0}
	return ch, nil
}

func (f *fakeBackend) ContainerRemove(ctx context.Context, ref string, force, removeVolumes bool) error {
	if err := f.record("ContainerRemove", ref, force, removeVolumes); err != nil {
		return err
	}
	c, ok := f.lookup(ref)
	if !ok {
		return notFound("container", ref)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, v := range f.containers {
		if v.ID == c.ID {
			delete(f.containers, k)
		}
	}
	return nil
}

func (f *fakeBackend) ContainerRename(ctx context.Context, ref, newName string) error {
	return f.record("ContainerRename", ref, newName)
}

func (f *fakeBackend) ContainerInspect(ctx context.Context, ref string, size bool) (*container.InspectResponse, error) {
	if err := f.record("ContainerInspect", ref, size); err != nil {
		return nil, err
	}
	c, ok := f.lookup(ref)
	if !ok {
		return nil, notFound("container", ref)
	}
	return &container.InspectResponse{
		ID: c.ID, Name: c.Names[0], Image: "sha256:abc", Created: time.Unix(c.Created, 0).UTC().Format(time.RFC3339Nano),
		Path: "sleep", Args: []string{"1000"},
		State:      &container.State{Status: c.State, Running: c.State == container.StateRunning, Pid: 42, StartedAt: "2024-01-01T00:00:00Z", FinishedAt: "0001-01-01T00:00:00Z"},
		Config:     &container.Config{Image: c.Image, Cmd: []string{"sleep", "1000"}, Tty: f.tty},
		HostConfig: &container.HostConfig{},
	}, nil
}

func (f *fakeBackend) ContainerList(ctx context.Context, opts ContainerListOptions) ([]container.Summary, error) {
	if err := f.record("ContainerList", opts); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []container.Summary
	for _, c := range f.containers {
		out = append(out, c)
	}
	return out, nil
}

func (f *fakeBackend) ContainerLogs(ctx context.Context, ref string, opts LogOptions, w io.Writer) error {
	if err := f.record("ContainerLogs", ref, opts); err != nil {
		return err
	}
	if f.logs != "" {
		if _, err := io.WriteString(w, f.logs); err != nil {
			return err
		}
	}
	return f.logsErr
}

func (f *fakeBackend) ContainerTTY(ctx context.Context, ref string) (bool, error) {
	if err := f.record("ContainerTTY", ref); err != nil {
		return false, err
	}
	if _, ok := f.lookup(ref); !ok {
		return false, notFound("container", ref)
	}
	return f.tty, nil
}

func (f *fakeBackend) ContainerAttach(ctx context.Context, ref string, opts AttachOptions) error {
	if err := f.record("ContainerAttach", ref, opts); err != nil {
		return err
	}
	if f.attach != nil {
		return f.attach(opts)
	}
	return nil
}

func (f *fakeBackend) ContainerResize(ctx context.Context, ref string, height, width int) error {
	return f.record("ContainerResize", ref, height, width)
}

func (f *fakeBackend) ContainerTop(ctx context.Context, ref string, psArgs string) (*container.TopResponse, error) {
	if err := f.record("ContainerTop", ref, psArgs); err != nil {
		return nil, err
	}
	return &container.TopResponse{Titles: []string{"PID", "CMD"}, Processes: [][]string{{"1", "sleep"}}}, nil
}

func (f *fakeBackend) ContainerStats(ctx context.Context, ref string, stream, oneShot bool, w io.Writer) error {
	if err := f.record("ContainerStats", ref, stream, oneShot); err != nil {
		return err
	}
	if f.stats != nil {
		return f.stats(w)
	}
	_, err := io.WriteString(w, `{"id":"c1"}`+"\n")
	return err
}

func (f *fakeBackend) ContainerUpdate(ctx context.Context, ref string, uc *container.UpdateConfig) (container.UpdateResponse, error) {
	return container.UpdateResponse{}, f.record("ContainerUpdate", ref, uc)
}

func (f *fakeBackend) ContainerPrune(ctx context.Context, filters map[string][]string) (*container.PruneReport, error) {
	if err := f.record("ContainerPrune", filters); err != nil {
		return nil, err
	}
	return &container.PruneReport{ContainersDeleted: []string{"dead"}, SpaceReclaimed: 10}, nil
}

func (f *fakeBackend) ImageList(ctx context.Context, opts ImageListOptions) ([]image.Summary, error) {
	if err := f.record("ImageList", opts); err != nil {
		return nil, err
	}
	return []image.Summary{
		{ID: "sha256:abc", RepoTags: []string{"busybox:latest"}, Created: 1700000000, Size: 1234, Containers: -1},
		{ID: "sha256:def", Created: 1700000000, Size: 99, Containers: -1, Descriptor: &ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest}},
	}, nil
}

func (f *fakeBackend) ImageInspect(ctx context.Context, ref string) (*image.InspectResponse, error) {
	if err := f.record("ImageInspect", ref); err != nil {
		return nil, err
	}
	if ref != "busybox" && ref != "busybox:latest" && ref != "docker.io/library/busybox:latest" && ref != "sha256:abc" {
		return nil, notFound("image", ref)
	}
	return &image.InspectResponse{ID: "sha256:abc", RepoTags: []string{"busybox:latest"}, Os: "linux", Architecture: "amd64",
		Descriptor: &ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest}}, nil
}

func (f *fakeBackend) ImageHistory(ctx context.Context, ref string) ([]image.HistoryItem, error) {
	if err := f.record("ImageHistory", ref); err != nil {
		return nil, err
	}
	return []image.HistoryItem{{ID: "sha256:abc", CreatedBy: "import"}}, nil
}

func (f *fakeBackend) ImageTag(ctx context.Context, ref, repo, tag string) error {
	return f.record("ImageTag", ref, repo, tag)
}

func (f *fakeBackend) ImageRemove(ctx context.Context, ref string, force, noPrune bool) ([]image.DeleteResponse, error) {
	if err := f.record("ImageRemove", ref, force, noPrune); err != nil {
		return nil, err
	}
	return []image.DeleteResponse{{Untagged: ref}}, nil
}

func (f *fakeBackend) ImagePrune(ctx context.Context, filters map[string][]string) (*image.PruneReport, error) {
	if err := f.record("ImagePrune", filters); err != nil {
		return nil, err
	}
	return &image.PruneReport{}, nil
}

func (f *fakeBackend) ImageImport(ctx context.Context, src io.Reader, repo, tag string, changes []string, message string, platform *ocispec.Platform, w io.Writer) error {
	body, err := io.ReadAll(src)
	if err != nil {
		return err
	}
	if err := f.record("ImageImport", string(body), repo, tag, changes, message, platform); err != nil {
		return err
	}
	_, err = io.WriteString(w, `{"status":"sha256:imported"}`+"\n")
	return err
}

func (f *fakeBackend) ImageSave(ctx context.Context, refs []string, w io.Writer) error {
	if err := f.record("ImageSave", refs); err != nil {
		return err
	}
	_, err := io.WriteString(w, "TAR")
	return err
}

func (f *fakeBackend) ImageLoad(ctx context.Context, r io.Reader, quiet bool, w io.Writer) error {
	if err := f.record("ImageLoad", quiet); err != nil {
		return err
	}
	if f.load != nil {
		return f.load(r, w)
	}
	_, err := io.Copy(io.Discard, r)
	if err == nil {
		_, err = io.WriteString(w, `{"stream":"Loaded image: busybox:latest\n"}`+"\n")
	}
	return err
}

func (f *fakeBackend) ContainerCommit(ctx context.Context, ref string, opts CommitOptions) (string, error) {
	if err := f.record("ContainerCommit", ref, opts); err != nil {
		return "", err
	}
	return "sha256:committed", nil
}

func (f *fakeBackend) ContainerExport(ctx context.Context, ref string, w io.Writer) error {
	if err := f.record("ContainerExport", ref); err != nil {
		return err
	}
	_, err := io.WriteString(w, "ROOTFS")
	return err
}

var _ Backend = (*fakeBackend)(nil)

func (f *fakeBackend) ContainerExecCreate(ctx context.Context, ref string, req *container.ExecCreateRequest) (string, error) {
	if err := f.record("ContainerExecCreate", ref, req.Cmd); err != nil {
		return "", err
	}
	return "exec1", nil
}

func (f *fakeBackend) ContainerExecStart(ctx context.Context, id string, opts ExecStartOptions) error {
	if err := f.record("ContainerExecStart", id, opts.Detach); err != nil {
		return err
	}
	if opts.Stdout != nil {
		// One stdout frame of Docker's multiplexed stream.
		msg := "exec output\n"
		opts.Stdout.Write(append([]byte{1, 0, 0, 0, 0, 0, 0, byte(len(msg))}, msg...))
	}
	return nil
}

func (f *fakeBackend) ContainerExecInspect(ctx context.Context, id string) (*container.ExecInspectResponse, error) {
	if err := f.record("ContainerExecInspect", id); err != nil {
		return nil, err
	}
	code := 0
	return &container.ExecInspectResponse{ID: id, ExitCode: &code}, nil
}

func (f *fakeBackend) ContainerExecResize(ctx context.Context, id string, h, w int) error {
	return f.record("ContainerExecResize", id, h, w)
}

func (f *fakeBackend) ContainerStatPath(ctx context.Context, ref, p string) (*container.PathStat, error) {
	if err := f.record("ContainerStatPath", ref, p); err != nil {
		return nil, err
	}
	return &container.PathStat{Name: "f", Size: 3, Mode: 0o644}, nil
}

func (f *fakeBackend) ContainerArchivePath(ctx context.Context, ref, p string, w io.Writer) error {
	return f.record("ContainerArchivePath", ref, p)
}

func (f *fakeBackend) ContainerExtractToDir(ctx context.Context, ref, p string, noOverwrite bool, r io.Reader) error {
	return f.record("ContainerExtractToDir", ref, p)
}

func (f *fakeBackend) ContainerChanges(ctx context.Context, ref string) ([]container.FilesystemChange, error) {
	if err := f.record("ContainerChanges", ref); err != nil {
		return nil, err
	}
	return []container.FilesystemChange{{Kind: container.ChangeAdd, Path: "/new"}}, nil
}
