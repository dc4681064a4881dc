package daemon

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	ctr "github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gorae/gorae/internal/errdefs"
)

// Docker's defaults, so a container behaves the same on gorae.
var (
	defaultCaps = []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
		"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
	}
	defaultMaskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	defaultReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
	defaultPath          = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// allCaps is every capability the runtime knows, for --privileged and
// --cap-add ALL.
var allCaps = func() []string {
	out := []string{
		"CAP_AUDIT_CONTROL", "CAP_AUDIT_READ", "CAP_AUDIT_WRITE", "CAP_BLOCK_SUSPEND", "CAP_BPF",
		"CAP_CHECKPOINT_RESTORE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
		"CAP_FSETID", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_KILL", "CAP_LEASE", "CAP_LINUX_IMMUTABLE",
		"CAP_MAC_ADMIN", "CAP_MAC_OVERRIDE", "CAP_MKNOD", "CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE",
		"CAP_NET_BROADCAST", "CAP_NET_RAW", "CAP_PERFMON", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
		"CAP_SETUID", "CAP_SYSLOG", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_CHROOT", "CAP_SYS_MODULE",
		"CAP_SYS_NICE", "CAP_SYS_PACCT", "CAP_SYS_PTRACE", "CAP_SYS_RAWIO", "CAP_SYS_RESOURCE",
		"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_WAKE_ALARM",
	}
	return out
}()

// specInput is what a container's OCI spec is made from.
type specInput struct {
	ID         string
	Rootfs     string
	Config     *ctr.Config // already merged with the image's config
	HostConfig *ctr.HostConfig
	// User is resolved against the container's /etc/passwd and /etc/group.
	User specs.User
	// InitBinary is bind-mounted as the container's pid 1 with --init.
	InitBinary string
	// CgroupV2 decides the default cgroup namespace mode, as Docker does
	// (private on v2, host on v1).
	CgroupV2 bool
	// SeccompProfile is the daemon's profile for containers that name
	// none: "" or "builtin" (defaultSeccomp), "unconfined", or a profile
	// in Docker's JSON format (daemon.json seccomp-profile).
	SeccompProfile string
	// DefaultUlimits are daemon.json's, for limits the container leaves unset.
	DefaultUlimits map[string]*ctr.Ulimit
	// NetNS is the network namespace to join (daemon/network.go made
	// it); empty: a new one, or the host's with --network host.
	NetNS string
	// EtcMounts bind the engine's hosts, resolv.conf and hostname.
	EtcMounts []specs.Mount
	// Mounts are the container's volumes, binds and tmpfs mounts
	// (daemon.mountVolumes).
	Mounts []specs.Mount
}

// specInput gathers what renderSpec needs for container id.
func (d *Daemon) specInput(id, rootfs string, cfg *ctr.Config, hc *ctr.HostConfig, user specs.User) specInput {
	return specInput{ID: id, Rootfs: rootfs, Config: cfg, HostConfig: hc, User: user, CgroupV2: d.cgroupV2,
		InitBinary: d.cfg.Front, SeccompProfile: d.seccompProfile, DefaultUlimits: d.cfg.DefaultUlimits}
}

// renderSpec turns Docker's container configuration into an OCI spec.
func renderSpec(in specInput) (*specs.Spec, error) {
	cfg, hc := in.Config, in.HostConfig
	if hc == nil {
		hc = &ctr.HostConfig{}
	}
	args, err := commandLine(cfg)
	if err != nil {
		return nil, err
	}
	hostname := cfg.Hostname
	if hostname == "" && !hc.NetworkMode.IsHost() {
		hostname = in.ID[:12]
	}
	s := &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: in.Rootfs, Readonly: hc.ReadonlyRootfs},
		Hostname: hostname,
		Process: &specs.Process{
			Terminal: cfg.Tty,
			Args:     args,
			Env:      containerEnv(cfg, hostname),
			Cwd:      cfg.WorkingDir,
			User:     in.User,
		},
		Linux: &specs.Linux{
			CgroupsPath: "/gorae/" + in.ID,
			Resources:   &specs.LinuxResources{},
			Sysctl:      hc.Sysctls,
		},
		Annotations: map[string]string{"org.gorae.container.id": in.ID},
	}
	if s.Process.Cwd == "" {
		s.Process.Cwd = "/"
	}
	if cfg.Domainname != "" {
		s.Domainname = cfg.Domainname
	}
	if err := setNamespaces(s, hc, in.CgroupV2); err != nil {
		return nil, err
	}
	setNetNSPath(s, in.NetNS)
	// The container's own mounts win over the engine's /etc files.
	s.Mounts = mergeMounts(append(defaultMounts(hc), in.EtcMounts...), in.Mounts)
	if hc.Init != nil && *hc.Init {
		if in.InitBinary == "" {
			return nil, errdefs.InvalidParameter(errors.New("--init: no init binary"))
		}
		// Docker's path, so tools that look for it find it.
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/sbin/docker-init", Type: "bind", Source: in.InitBinary, Options: []string{"bind", "ro"}})
		s.Process.Args = append([]string{"/sbin/docker-init", "--"}, s.Process.Args...)
	}
	if err := setSecurity(s, hc, in.SeccompProfile); err != nil {
		return nil, err
	}
	if err := setResources(s.Linux.Resources, hc); err != nil {
		return nil, err
	}
	setDevices(s, hc)
	s.Process.Rlimits = rlimits(hc.Ulimits, in.DefaultUlimits)
	if hc.OomScoreAdj != 0 {
		adj := hc.OomScoreAdj
		s.Process.OOMScoreAdj = &adj
	}
	return s, nil
}

// rlimits are the container's ulimits, then the daemon's defaults for
// the names it did not set.
func rlimits(own []*ctr.Ulimit, defaults map[string]*ctr.Ulimit) []specs.POSIXRlimit {
	var out []specs.POSIXRlimit
	set := map[string]bool{}
	add := func(u *ctr.Ulimit) {
		if u == nil || set[strings.ToLower(u.Name)] {
			return
		}
		name := strings.ToLower(u.Name)
		set[name] = true
		out = append(out, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(name), Soft: uint64(u.Soft), Hard: uint64(u.Hard)})
	}
	for _, u := range own {
		add(u)
	}
	names := make([]string, 0, len(defaults))
	for n := range defaults {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		u := *defaults[n]
		if u.Name == "" {
			u.Name = n
		}
		add(&u)
	}
	return out
}

// commandLine applies Docker's rule: the entrypoint, then the command.
func commandLine(cfg *ctr.Config) ([]string, error) {
	args := append(append([]string(nil), cfg.Entrypoint...), cfg.Cmd...)
	if len(args) == 0 {
		return nil, errdefs.InvalidParameter(errors.New("no command specified"))
	}
	return args, nil
}

func containerEnv(cfg *ctr.Config, hostname string) []string {
	env := []string{}
	hasPath := false
	for _, e := range cfg.Env {
		if strings.HasPrefix(e, "PATH=") {
			hasPath = true
		}
	}
	if !hasPath {
		env = append(env, defaultPath)
	}
	if hostname != "" {
		env = append(env, "HOSTNAME="+hostname)
	}
	if cfg.Tty {
		env = append(env, "TERM=xterm")
	}
	return append(env, cfg.Env...)
}

func setNamespaces(s *specs.Spec, hc *ctr.HostConfig, v2 bool) error {
	ns := []specs.LinuxNamespace{{Type: specs.MountNamespace}}
	add := func(t specs.LinuxNamespaceType, path string) {
		ns = append(ns, specs.LinuxNamespace{Type: t, Path: path})
	}
	switch {
	case hc.NetworkMode.IsHost():
	default:
		// container:… joins by path too: specInput.NetNS.
		add(specs.NetworkNamespace, "")
	}
	if !hc.PidMode.IsHost() {
		if hc.PidMode.IsContainer() {
			return errdefs.NotImplemented(errors.New("--pid container:… is not supported yet"))
		}
		add(specs.PIDNamespace, "")
	}
	if !hc.IpcMode.IsHost() {
		add(specs.IPCNamespace, "")
	}
	if !hc.UTSMode.IsHost() {
		add(specs.UTSNamespace, "")
	} else {
		s.Hostname = ""
	}
	switch hc.CgroupnsMode {
	case ctr.CgroupnsModePrivate:
		add(specs.CgroupNamespace, "")
	case ctr.CgroupnsModeHost:
	case "":
		if v2 {
			add(specs.CgroupNamespace, "")
		}
	default:
		return errdefs.InvalidParameter(fmt.Errorf("invalid cgroupns mode %q", hc.CgroupnsMode))
	}
	s.Linux.Namespaces = ns
	return nil
}

func defaultMounts(hc *ctr.HostConfig) []specs.Mount {
	shm := hc.ShmSize
	if shm == 0 {
		shm = 64 << 20
	}
	sysOpts := []string{"nosuid", "noexec", "nodev", "ro"}
	cgOpts := []string{"ro", "nosuid", "noexec", "nodev"}
	if hc.Privileged {
		sysOpts[3], cgOpts[0] = "rw", "rw"
	}
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: sysOpts},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: cgOpts},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=" + strconv.FormatInt(shm, 10)}},
	}
}

// mergeMounts lets user mounts replace defaults at the same destination
// and orders parents before children.
func mergeMounts(defaults, user []specs.Mount) []specs.Mount {
	taken := map[string]bool{}
	for _, m := range user {
		taken[filepath.Clean(m.Destination)] = true
	}
	var out []specs.Mount
	for _, m := range defaults {
		if !taken[m.Destination] {
			out = append(out, m)
		}
	}
	out = append(out, user...)
	sort.SliceStable(out, func(i, j int) bool {
		return strings.Count(filepath.Clean(out[i].Destination), "/") < strings.Count(filepath.Clean(out[j].Destination), "/")
	})
	return out
}

func setSecurity(s *specs.Spec, hc *ctr.HostConfig, seccompProfile string) error {
	caps := append([]string(nil), defaultCaps...)
	if hc.Privileged {
		caps = append([]string(nil), allCaps...)
	} else {
		var err error
		if caps, err = tweakCaps(caps, hc.CapAdd, hc.CapDrop); err != nil {
			return err
		}
		s.Linux.MaskedPaths = append([]string(nil), defaultMaskedPaths...)
		s.Linux.ReadonlyPaths = append([]string(nil), defaultReadonlyPaths...)
	}
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	for _, opt := range hc.SecurityOpt {
		k, v, _ := strings.Cut(opt, "=")
		if k == opt && strings.Contains(opt, ":") {
			// The old colon form: seccomp:unconfined.
			k, v, _ = strings.Cut(opt, ":")
		}
		switch k {
		case "no-new-privileges":
			s.Process.NoNewPrivileges = v == "" || v == "true"
		case "seccomp":
			// The docker CLI sends a profile file's content, not its path.
			seccompProfile = v
			if v == "" {
				return errdefs.InvalidParameter(errors.New("--security-opt seccomp= needs unconfined, builtin or a profile"))
			}
		case "apparmor":
			if v != "unconfined" {
				s.Process.ApparmorProfile = v
			}
		case "label":
		default:
			return errdefs.InvalidParameter(fmt.Errorf("invalid --security-opt: %q", opt))
		}
	}
	// Privileged containers run without a filter, as in Docker.
	if hc.Privileged {
		return nil
	}
	sc, err := seccompFor(seccompProfile, s)
	if err != nil {
		return err
	}
	s.Linux.Seccomp = sc
	return nil
}

// tweakCaps applies --cap-add and --cap-drop (with ALL) as Docker does:
// drops first, then adds, so --cap-drop ALL --cap-add X keeps only X.
func tweakCaps(base, add, drop []string) ([]string, error) {
	norm := func(c string) (string, error) {
		c = strings.ToUpper(c)
		if c == "ALL" {
			return c, nil
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		for _, k := range allCaps {
			if k == c {
				return c, nil
			}
		}
		return "", errdefs.InvalidParameter(fmt.Errorf("unknown capability: %q", c))
	}
	set := map[string]bool{}
	for _, c := range base {
		set[c] = true
	}
	for _, c := range drop {
		n, err := norm(c)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			set = map[string]bool{}
			continue
		}
		delete(set, n)
	}
	for _, c := range add {
		n, err := norm(c)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			for _, k := range allCaps {
				set[k] = true
			}
			continue
		}
		set[n] = true
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out, nil
}

func setResources(r *specs.LinuxResources, hc *ctr.HostConfig) error {
	res := hc.Resources
	if res.Memory != 0 || res.MemorySwap != 0 || res.MemoryReservation != 0 || res.MemorySwappiness != nil {
		m := &specs.LinuxMemory{}
		if res.Memory != 0 {
			v := res.Memory
			m.Limit = &v
			// Docker: swap defaults to twice the memory (memory + as much
			// swap), -1 is unlimited.
			swap := res.MemorySwap
			if swap == 0 {
				swap = 2 * res.Memory
			}
			m.Swap = &swap
		} else if res.MemorySwap != 0 {
			return errdefs.InvalidParameter(errors.New("you should always set the memory limit when using the memoryswap limit, see usage"))
		}
		if res.MemoryReservation != 0 {
			v := res.MemoryReservation
			m.Reservation = &v
		}
		if res.MemorySwappiness != nil && *res.MemorySwappiness >= 0 {
			v := uint64(*res.MemorySwappiness)
			m.Swappiness = &v
		}
		if res.OomKillDisable != nil && *res.OomKillDisable {
			t := true
			m.DisableOOMKiller = &t
		}
		r.Memory = m
	}
	cpu := &specs.LinuxCPU{}
	has := false
	if res.CPUShares != 0 {
		v := uint64(res.CPUShares)
		cpu.Shares, has = &v, true
	}
	if res.NanoCPUs != 0 {
		if res.CPUQuota != 0 || res.CPUPeriod != 0 {
			return errdefs.InvalidParameter(errors.New("conflicting options: Nano CPUs and CPU Period cannot both be set"))
		}
		period := uint64(100000)
		quota := res.NanoCPUs * int64(period) / 1e9
		cpu.Period, cpu.Quota, has = &period, &quota, true
	}
	if res.CPUQuota != 0 {
		v := res.CPUQuota
		cpu.Quota, has = &v, true
	}
	if res.CPUPeriod != 0 {
		v := uint64(res.CPUPeriod)
		cpu.Period, has = &v, true
	}
	if res.CpusetCpus != "" {
		cpu.Cpus, has = res.CpusetCpus, true
	}
	if res.CpusetMems != "" {
		cpu.Mems, has = res.CpusetMems, true
	}
	if has {
		r.CPU = cpu
	}
	if res.PidsLimit != nil && *res.PidsLimit != 0 {
		v := *res.PidsLimit
		r.Pids = &specs.LinuxPids{Limit: &v}
	}
	if res.BlkioWeight != 0 {
		v := res.BlkioWeight
		r.BlockIO = &specs.LinuxBlockIO{Weight: &v}
	}
	return nil
}

// dockerDevices is Docker's default device cgroup: deny everything, then
// allow the basics (null, zero, full, random, urandom, tty, console,
// ptmx, pts, tun, mknod of any char or block device).
func dockerDevices() []specs.LinuxDeviceCgroup {
	i := func(v int64) *int64 { return &v }
	wild := i(-1)
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: wild, Minor: wild, Access: "m"},
		{Allow: true, Type: "b", Major: wild, Minor: wild, Access: "m"},
		{Allow: true, Type: "c", Major: i(1), Minor: i(3), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(1), Minor: i(8), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(1), Minor: i(7), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(5), Minor: i(0), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(1), Minor: i(5), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(1), Minor: i(9), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(136), Minor: wild, Access: "rwm"},
		{Allow: true, Type: "c", Major: i(5), Minor: i(2), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(10), Minor: i(200), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(5), Minor: i(1), Access: "rwm"},
	}
}

func setDevices(s *specs.Spec, hc *ctr.HostConfig) {
	if hc.Privileged {
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		return
	}
	s.Linux.Resources.Devices = dockerDevices()
}
