package daemon

import (
	"context"
	"os"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/system"
	"golang.org/x/sys/unix"

	"github.com/gorae/gorae/internal/api"
	"github.com/gorae/gorae/internal/content"
	"github.com/gorae/gorae/internal/snapshot"
	imagetypes "github.com/moby/moby/api/types/image"
)

// Version strings the daemon reports; the API layer fills the API range.
var (
	EngineVersion = "dev"
	GitCommit     = ""
)

// Version is /version.
func (d *Daemon) Version(ctx context.Context) system.VersionResponse {
	kernel := kernelVersion()
	return system.VersionResponse{
		Platform:      system.PlatformInfo{Name: "gorae"},
		Version:       EngineVersion,
		Os:            goruntime.GOOS,
		Arch:          goruntime.GOARCH,
		GitCommit:     GitCommit,
		GoVersion:     goruntime.Version(),
		KernelVersion: kernel,
		Components: []system.ComponentVersion{
			{Name: "Engine", Version: EngineVersion, Details: map[string]string{"GoVersion": goruntime.Version(), "KernelVersion": kernel, "Os": goruntime.GOOS, "Arch": goruntime.GOARCH}},
			{Name: "gorae-runtime", Version: EngineVersion},
		},
	}
}

func kernelVersion() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// Info is /info.
func (d *Daemon) Info(ctx context.Context) (*system.Info, error) {
	var running, paused, stopped int
	cs := d.containers.List()
	for _, c := range cs {
		switch c.Snapshot().Status {
		case container.StateRunning, container.StateRestarting:
			running++
		case container.StatePaused:
			paused++
		default:
			stopped++
		}
	}
	var si unix.Sysinfo_t
	unix.Sysinfo(&si)
	host, _ := os.Hostname()
	cgv := "1"
	if d.cgroupV2 {
		cgv = "2"
	}
	runtimes := map[string]system.RuntimeWithStatus{
		"gorae": {Runtime: system.Runtime{Path: d.cfg.Front, Args: []string{"runtime"}}},
		"runc":  {Runtime: system.Runtime{Path: "runc"}},
		"crun":  {Runtime: system.Runtime{Path: "crun"}},
	}
	for name, rc := range d.cfg.Runtimes {
		runtimes[name] = system.RuntimeWithStatus{Runtime: system.Runtime{Path: rc.Path, Args: rc.Args}}
	}
	return &system.Info{
		ID:                 "gorae",
		Containers:         len(cs),
		ContainersRunning:  running,
		ContainersPaused:   paused,
		ContainersStopped:  stopped,
		Images:             len(d.images.Images()),
		Driver:             "overlay2",
		DriverStatus:       [][2]string{{"Backing Filesystem", "gorae overlay snapshotter"}},
		MemoryLimit:        true,
		SwapLimit:          true,
		CPUCfsPeriod:       true,
		CPUCfsQuota:        true,
		CPUShares:          true,
		CPUSet:             true,
		PidsLimit:          true,
		Debug:              d.cfg.Debug,
		NGoroutines:        goruntime.NumGoroutine(),
		SystemTime:         time.Now().Format(time.RFC3339Nano),
		LoggingDriver:      d.cfg.LogDriver,
		CgroupDriver:       "cgroupfs",
		CgroupVersion:      cgv,
		KernelVersion:      kernelVersion(),
		OperatingSystem:    osName(),
		OSType:             "linux",
		Architecture:       unameMachine(),
		IndexServerAddress: "https://index.docker.io/v1/",
		RegistryConfig:     d.registryServiceConfig(),
		NCPU:               goruntime.NumCPU(),
		MemTotal:           int64(si.Totalram) * int64(si.Unit),
		DockerRootDir:      d.cfg.DataRoot,
		Name:               host,
		Labels:             []string{},
		ServerVersion:      EngineVersion,
		Runtimes:           runtimes,
		DefaultRuntime:     d.cfg.DefaultRuntime,
		LiveRestoreEnabled: true,
		Isolation:          "",
		SecurityOptions:    []string{"name=seccomp,profile=builtin"},
		Warnings:           []string{},
	}, nil
}

func unameMachine() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return goruntime.GOARCH
	}
	return unix.ByteSliceToString(u.Machine[:])
}

func osName() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}

// DiskUsage is /system/df: images with their sizes, containers with
// their writable layers; no volumes or build cache exist yet.
func (d *Daemon) DiskUsage(ctx context.Context) (*system.DiskUsage, error) {
	imgs, err := d.ImageList(ctx, api.ImageListOptions{All: true})
	if err != nil {
		return nil, err
	}
	iu := &imagetypes.DiskUsage{Items: []imagetypes.Summary{}}
	for _, i := range imgs {
		iu.Items = append(iu.Items, imagetypes.Summary{
			ID: i.ID, ParentID: i.ParentID, RepoTags: i.RepoTags, RepoDigests: i.RepoDigests,
			Created: i.Created, Size: i.Size, SharedSize: i.SharedSize, Labels: i.Labels,
			Containers: i.Containers, Descriptor: i.Descriptor,
		})
		iu.TotalCount++
		if i.Containers > 0 {
			iu.ActiveCount++
		} else {
			iu.Reclaimable += i.Size - i.SharedSize
		}
	}
	// What images occupy on disk: their blobs, and their layers unpacked
	// (each once, however many images share it).
	d.content.Walk(ctx, func(in content.Info) error {
		iu.TotalSize += in.Size
		return nil
	})
	d.snapshots.Walk(ctx, func(ctx context.Context, in snapshot.Info) error {
		if in.Kind == snapshot.KindCommitted {
			if u, err := d.snapshots.Usage(ctx, in.Name); err == nil {
				iu.TotalSize += u.Size
			}
		}
		return nil
	})
	cu := &container.DiskUsage{Items: []container.Summary{}}
	for _, c := range d.containers.List() {
		sum := d.summary(c)
		if u, err := d.snapshots.Usage(ctx, c.ID); err == nil {
			rw := u.Size
			sum.SizeRw = rw
		}
		cu.Items = append(cu.Items, sum)
		cu.TotalCount++
		cu.TotalSize += sum.SizeRw
		if c.Snapshot().IsRunning() {
			cu.ActiveCount++
		} else {
			cu.Reclaimable += sum.SizeRw
		}
	}
	return &system.DiskUsage{ImageUsage: iu, ContainerUsage: cu, VolumeUsage: d.volumeUsage()}, nil
}
