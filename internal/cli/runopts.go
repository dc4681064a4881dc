package cli

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/pflag"
)

// runOptions are the flags `run` and `create` share, named as docker
// names them.
type runOptions struct {
	attach, addHost, capAdd, capDrop, devices, dns, dnsOpt, dnsSearch []string
	env, envFile, expose, groupAdd, labels, labelFile, links, logOpts []string
	mounts, netAliases, publish, securityOpt, storageOpt, sysctls     []string
	tmpfs, ulimits, volumes, volumesFrom, deviceCgroupRules           []string
	annotations                                                       []string

	cidfile, cgroupParent, cgroupns, cpusetCpus, cpusetMems, domainname string
	entrypoint, hostname, ip, ip6, ipc, logDriver, macAddress, memory   string
	memoryReservation, memorySwap, name, network, pid, platform, pull   string
	restart, runtime, shmSize, stopSignal, user, userns, uts, workdir   string
	healthCmd, isolation                                                string

	cpus                                                 float64
	cpuShares, cpuPeriod, cpuQuota, memorySwappiness     int64
	pidsLimit                                            int64
	blkioWeight                                          uint16
	oomScoreAdj, stopTimeout, healthRetries              int
	healthInterval, healthTimeout, healthStart, healthSI time.Duration
	detach, interactive, tty, rm, init, privileged       bool
	readOnly, publishAll, noHealthcheck, oomKillDisable  bool
	quiet, disableContentTrust                           bool
	detachKeys                                           string
	sigProxy                                             bool
	flags                                                *pflag.FlagSet
}

func addRunFlags(fl *pflag.FlagSet, o *runOptions) {
	o.flags = fl
	fl.SetInterspersed(false) // flags after the image belong to the command
	fl.Bool("help", false, "Print usage")
	fl.StringSliceVarP(&o.attach, "attach", "a", nil, "Attach to STDIN, STDOUT or STDERR")
	fl.StringArrayVar(&o.addHost, "add-host", nil, "Add a custom host-to-IP mapping (host:ip)")
	fl.StringArrayVar(&o.annotations, "annotation", nil, "Add an annotation to the container (passed through to the OCI runtime)")
	fl.Uint16Var(&o.blkioWeight, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable")
	fl.StringArrayVar(&o.capAdd, "cap-add", nil, "Add Linux capabilities")
	fl.StringArrayVar(&o.capDrop, "cap-drop", nil, "Drop Linux capabilities")
	fl.StringVar(&o.cgroupParent, "cgroup-parent", "", "Optional parent cgroup for the container")
	fl.StringVar(&o.cgroupns, "cgroupns", "", `Cgroup namespace to use (host|private)`)
	fl.StringVar(&o.cidfile, "cidfile", "", "Write the container ID to the file")
	fl.Int64Var(&o.cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	fl.Int64Var(&o.cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	fl.Int64VarP(&o.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fl.Float64Var(&o.cpus, "cpus", 0, "Number of CPUs")
	fl.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fl.StringVar(&o.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	fl.StringArrayVar(&o.devices, "device", nil, "Add a host device to the container")
	fl.StringArrayVar(&o.deviceCgroupRules, "device-cgroup-rule", nil, "Add a rule to the cgroup allowed devices list")
	fl.StringArrayVar(&o.dns, "dns", nil, "Set custom DNS servers")
	fl.StringArrayVar(&o.dnsOpt, "dns-option", nil, "Set DNS options")
	fl.StringArrayVar(&o.dnsSearch, "dns-search", nil, "Set custom DNS search domains")
	fl.StringVar(&o.domainname, "domainname", "", "Container NIS domain name")
	fl.StringVar(&o.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	fl.StringArrayVarP(&o.env, "env", "e", nil, "Set environment variables")
	fl.StringArrayVar(&o.envFile, "env-file", nil, "Read in a file of environment variables")
	fl.StringArrayVar(&o.expose, "expose", nil, "Expose a port or a range of ports")
	fl.StringArrayVar(&o.groupAdd, "group-add", nil, "Add additional groups to join")
	fl.StringVar(&o.healthCmd, "health-cmd", "", "Command to run to check health")
	fl.DurationVar(&o.healthInterval, "health-interval", 0, "Time between running the check (ms|s|m|h) (default 0s)")
	fl.IntVar(&o.healthRetries, "health-retries", 0, "Consecutive failures needed to report unhealthy")
	fl.DurationVar(&o.healthStart, "health-start-period", 0, "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
	fl.DurationVar(&o.healthSI, "health-start-interval", 0, "Time between running the check during the start period (ms|s|m|h) (default 0s)")
	fl.DurationVar(&o.healthTimeout, "health-timeout", 0, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)")
	fl.StringVarP(&o.hostname, "hostname", "h", "", "Container host name")
	fl.BoolVar(&o.init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	fl.BoolVarP(&o.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fl.StringVar(&o.ip, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	fl.StringVar(&o.ip6, "ip6", "", "IPv6 address (e.g., 2001:db8::33)")
	fl.StringVar(&o.ipc, "ipc", "", "IPC mode to use")
	fl.StringVar(&o.isolation, "isolation", "", "Container isolation technology")
	fl.StringArrayVarP(&o.labels, "label", "l", nil, "Set meta data on a container")
	fl.StringArrayVar(&o.labelFile, "label-file", nil, "Read in a line delimited file of labels")
	fl.StringArrayVar(&o.links, "link", nil, "Add link to another container")
	fl.StringVar(&o.logDriver, "log-driver", "", "Logging driver for the container")
	fl.StringArrayVar(&o.logOpts, "log-opt", nil, "Log driver options")
	fl.StringVar(&o.macAddress, "mac-address", "", "Container MAC address (e.g., 92:d0:c6:0a:29:33)")
	fl.StringVarP(&o.memory, "memory", "m", "", "Memory limit")
	fl.StringVar(&o.memoryReservation, "memory-reservation", "", "Memory soft limit")
	fl.StringVar(&o.memorySwap, "memory-swap", "", `Swap limit equal to memory plus swap: '-1' to enable unlimited swap`)
	fl.Int64Var(&o.memorySwappiness, "memory-swappiness", -1, "Tune container memory swappiness (0 to 100)")
	fl.StringArrayVar(&o.mounts, "mount", nil, "Attach a filesystem mount to the container")
	fl.StringVar(&o.name, "name", "", "Assign a name to the container")
	fl.StringVar(&o.network, "network", "", "Connect a container to a network")
	fl.StringVar(&o.network, "net", "", "Connect a container to a network")
	fl.MarkHidden("net")
	fl.StringArrayVar(&o.netAliases, "network-alias", nil, "Add network-scoped alias for the container")
	fl.BoolVar(&o.noHealthcheck, "no-healthcheck", false, "Disable any container-specified HEALTHCHECK")
	fl.BoolVar(&o.oomKillDisable, "oom-kill-disable", false, "Disable OOM Killer")
	fl.IntVar(&o.oomScoreAdj, "oom-score-adj", 0, "Tune host's OOM preferences (-1000 to 1000)")
	fl.StringVar(&o.pid, "pid", "", "PID namespace to use")
	fl.Int64Var(&o.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	fl.StringVar(&o.platform, "platform", os.Getenv("DOCKER_DEFAULT_PLATFORM"), "Set platform if server is multi-platform capable")
	fl.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to this container")
	fl.StringArrayVarP(&o.publish, "publish", "p", nil, "Publish a container's port(s) to the host")
	fl.BoolVarP(&o.publishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	fl.StringVar(&o.pull, "pull", "missing", `Pull image before running ("always", "missing", "never")`)
	fl.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress the pull output")
	fl.BoolVar(&o.readOnly, "read-only", false, "Mount the container's root filesystem as read only")
	fl.StringVar(&o.restart, "restart", "no", "Restart policy to apply when a container exits")
	fl.StringVar(&o.runtime, "runtime", "", "Runtime to use for this container")
	fl.StringArrayVar(&o.securityOpt, "security-opt", nil, "Security Options")
	fl.StringVar(&o.shmSize, "shm-size", "", "Size of /dev/shm")
	fl.StringVar(&o.stopSignal, "stop-signal", "", "Signal to stop the container")
	fl.IntVar(&o.stopTimeout, "stop-timeout", 0, "Timeout (in seconds) to stop a container")
	fl.StringArrayVar(&o.storageOpt, "storage-opt", nil, "Storage driver options for the container")
	fl.StringArrayVar(&o.sysctls, "sysctl", nil, "Sysctl options")
	fl.StringArrayVar(&o.tmpfs, "tmpfs", nil, "Mount a tmpfs directory")
	fl.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fl.StringArrayVar(&o.ulimits, "ulimit", nil, "Ulimit options")
	fl.StringVarP(&o.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	fl.StringVar(&o.userns, "userns", "", "User namespace to use")
	fl.StringVar(&o.uts, "uts", "", "UTS namespace to use")
	fl.StringArrayVarP(&o.volumes, "volume", "v", nil, "Bind mount a volume")
	fl.StringArrayVar(&o.volumesFrom, "volumes-from", nil, "Mount volumes from the specified container(s)")
	fl.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")
	fl.BoolVar(&o.disableContentTrust, "disable-content-trust", true, "Skip image verification")
	fl.MarkHidden("disable-content-trust")
}

// containerSpec is what one create request sends.
type containerSpec struct {
	config     *container.Config
	hostConfig *container.HostConfig
	netConfig  *network.NetworkingConfig
	platform   *ocispec.Platform
}

// parse turns the flags, the image and its command into a create request,
// as docker's opts.parse does.
func (o *runOptions) parse(image string, cmd []string) (*containerSpec, error) {
	fl := o.flags
	env, err := readKVFiles(o.envFile)
	if err != nil {
		return nil, err
	}
	env = append(env, expandEnv(o.env)...)
	labelsList, err := readKVFiles(o.labelFile)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{}
	for _, l := range append(labelsList, o.labels...) {
		k, v, _ := strings.Cut(l, "=")
		labels[k] = v
	}

	cfg := &container.Config{
		Image:      image,
		Cmd:        cmd,
		Hostname:   o.hostname,
		Domainname: o.domainname,
		User:       o.user,
		Env:        env,
		WorkingDir: o.workdir,
		Labels:     labels,
		Tty:        o.tty,
		OpenStdin:  o.interactive,
		StopSignal: o.stopSignal,
	}
	if fl.Changed("entrypoint") {
		cfg.Entrypoint = []string{}
		if o.entrypoint != "" {
			cfg.Entrypoint = []string{o.entrypoint}
		}
	}
	if fl.Changed("stop-timeout") {
		cfg.StopTimeout = &o.stopTimeout
	}
	// Streams: -a picks them; without -a and -d, stdout and stderr, and
	// stdin with -i.
	if len(o.attach) > 0 {
		for _, a := range o.attach {
			switch strings.ToLower(a) {
			case "stdin":
				cfg.AttachStdin = true
			case "stdout":
				cfg.AttachStdout = true
			case "stderr":
				cfg.AttachStderr = true
			default:
				return nil, fmt.Errorf("invalid argument %q for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR", a)
			}
		}
	} else if !o.detach {
		cfg.AttachStdout, cfg.AttachStderr = true, true
		cfg.AttachStdin = o.interactive
	}
	if cfg.AttachStdin {
		cfg.StdinOnce = true
	}
	if hc, err := o.healthcheck(); err != nil {
		return nil, err
	} else {
		cfg.Healthcheck = hc
	}

	hc := &container.HostConfig{
		Binds:           nil,
		ContainerIDFile: o.cidfile,
		AutoRemove:      o.rm,
		CapAdd:          o.capAdd,
		CapDrop:         o.capDrop,
		CgroupnsMode:    container.CgroupnsMode(o.cgroupns),
		DNSOptions:      o.dnsOpt,
		DNSSearch:       o.dnsSearch,
		ExtraHosts:      o.addHost,
		GroupAdd:        o.groupAdd,
		IpcMode:         container.IpcMode(o.ipc),
		Links:           o.links,
		OomScoreAdj:     o.oomScoreAdj,
		PidMode:         container.PidMode(o.pid),
		Privileged:      o.privileged,
		PublishAllPorts: o.publishAll,
		ReadonlyRootfs:  o.readOnly,
		SecurityOpt:     nil,
		UTSMode:         container.UTSMode(o.uts),
		UsernsMode:      container.UsernsMode(o.userns),
		Runtime:         o.runtime,
		VolumesFrom:     o.volumesFrom,
		Isolation:       container.Isolation(o.isolation),
		LogConfig:       container.LogConfig{Type: o.logDriver, Config: kvMap(o.logOpts)},
		NetworkMode:     container.NetworkMode(o.network),
	}
	for i, h := range hc.ExtraHosts {
		// docker 28 accepts host=ip as well as host:ip.
		if k, v, ok := strings.Cut(h, "="); ok {
			hc.ExtraHosts[i] = k + ":" + v
		}
	}
	if len(o.annotations) > 0 {
		hc.Annotations = kvMap(o.annotations)
	}
	if fl.Changed("init") {
		hc.Init = &o.init
	}
	for _, d := range o.dns {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return nil, fmt.Errorf("invalid argument %q for \"--dns\" flag: %v", d, err)
		}
		hc.DNS = append(hc.DNS, a)
	}
	if hc.SecurityOpt, err = securityOpts(o.securityOpt); err != nil {
		return nil, err
	}
	if len(o.sysctls) > 0 {
		hc.Sysctls = kvMap(o.sysctls)
	}
	if len(o.storageOpt) > 0 {
		hc.StorageOpt = kvMap(o.storageOpt)
	}
	if hc.RestartPolicy, err = parseRestart(o.restart); err != nil {
		return nil, err
	}
	if o.rm && !hc.RestartPolicy.IsNone() {
		return nil, fmt.Errorf("conflicting options: cannot specify both --restart and --rm")
	}
	if o.shmSize != "" {
		if hc.ShmSize, err = units.RAMInBytes(o.shmSize); err != nil {
			return nil, fmt.Errorf("invalid argument %q for \"--shm-size\" flag: %v", o.shmSize, err)
		}
	}
	if err := o.resources(&hc.Resources); err != nil {
		return nil, err
	}
	// Volumes and mounts.
	for _, v := range o.volumes {
		parts := strings.Split(v, ":")
		if len(parts) == 1 {
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			cfg.Volumes[v] = struct{}{}
			continue
		}
		hc.Binds = append(hc.Binds, v)
	}
	for _, t := range o.tmpfs {
		if hc.Tmpfs == nil {
			hc.Tmpfs = map[string]string{}
		}
		p, opts, _ := strings.Cut(t, ":")
		hc.Tmpfs[p] = opts
	}
	for _, m := range o.mounts {
		mt, err := parseMount(m)
		if err != nil {
			return nil, fmt.Errorf("invalid argument %q for \"--mount\" flag: %v", m, err)
		}
		hc.Mounts = append(hc.Mounts, mt)
	}
	// Ports.
	for _, e := range o.expose {
		pr, err := network.ParsePortRange(e)
		if err != nil {
			return nil, fmt.Errorf("invalid range format for --expose: %s, error: %v", e, err)
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = network.PortSet{}
		}
		for p := range pr.All() {
			cfg.ExposedPorts[p] = struct{}{}
		}
	}
	for _, p := range o.publish {
		if err := addPublish(cfg, hc, p); err != nil {
			return nil, err
		}
	}
	// Networking.
	var nc *network.NetworkingConfig
	if o.ip != "" || o.ip6 != "" || len(o.netAliases) > 0 || o.macAddress != "" {
		ep := &network.EndpointSettings{Aliases: o.netAliases}
		if o.ip != "" || o.ip6 != "" {
			ep.IPAMConfig = &network.EndpointIPAMConfig{}
			if o.ip != "" {
				if ep.IPAMConfig.IPv4Address, err = netip.ParseAddr(o.ip); err != nil {
					return nil, fmt.Errorf("invalid IPv4 address: %s", o.ip)
				}
			}
			if o.ip6 != "" {
				if ep.IPAMConfig.IPv6Address, err = netip.ParseAddr(o.ip6); err != nil {
					return nil, fmt.Errorf("invalid IPv6 address: %s", o.ip6)
				}
			}
		}
		if o.macAddress != "" {
			if err := ep.MacAddress.UnmarshalText([]byte(o.macAddress)); err != nil {
				return nil, fmt.Errorf("%s is not a valid mac address", o.macAddress)
			}
		}
		name := o.network
		if name == "" {
			name = "default"
		}
		nc = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{name: ep}}
	}
	spec := &containerSpec{config: cfg, hostConfig: hc, netConfig: nc}
	if o.platform != "" {
		p, err := parsePlatform(o.platform)
		if err != nil {
			return nil, err
		}
		spec.platform = &p
	}
	return spec, nil
}

func (o *runOptions) healthcheck() (*container.HealthConfig, error) {
	fl := o.flags
	set := o.healthCmd != "" || fl.Changed("health-interval") || fl.Changed("health-timeout") ||
		fl.Changed("health-retries") || fl.Changed("health-start-period") || fl.Changed("health-start-interval")
	if o.noHealthcheck {
		if set {
			return nil, fmt.Errorf("--no-healthcheck conflicts with --health-* options")
		}
		return &container.HealthConfig{Test: []string{"NONE"}}, nil
	}
	if !set {
		return nil, nil
	}
	if o.healthRetries < 0 {
		return nil, fmt.Errorf("--health-retries cannot be negative")
	}
	h := &container.HealthConfig{
		Interval: o.healthInterval, Timeout: o.healthTimeout, StartPeriod: o.healthStart,
		StartInterval: o.healthSI, Retries: o.healthRetries,
	}
	if o.healthCmd != "" {
		h.Test = []string{"CMD-SHELL", o.healthCmd}
	}
	return h, nil
}

func (o *runOptions) resources(r *container.Resources) error {
	var err error
	if o.memory != "" {
		if r.Memory, err = units.RAMInBytes(o.memory); err != nil {
			return fmt.Errorf("invalid argument %q for \"-m, --memory\" flag: %v", o.memory, err)
		}
	}
	if o.memoryReservation != "" {
		if r.MemoryReservation, err = units.RAMInBytes(o.memoryReservation); err != nil {
			return fmt.Errorf("invalid argument %q for \"--memory-reservation\" flag: %v", o.memoryReservation, err)
		}
	}
	if o.memorySwap == "-1" {
		r.MemorySwap = -1
	} else if o.memorySwap != "" {
		if r.MemorySwap, err = units.RAMInBytes(o.memorySwap); err != nil {
			return fmt.Errorf("invalid argument %q for \"--memory-swap\" flag: %v", o.memorySwap, err)
		}
	}
	if o.flags.Changed("memory-swappiness") {
		r.MemorySwappiness = &o.memorySwappiness
	}
	if o.flags.Changed("oom-kill-disable") {
		r.OomKillDisable = &o.oomKillDisable
	}
	if o.flags.Changed("pids-limit") {
		r.PidsLimit = &o.pidsLimit
	}
	if o.cpus != 0 {
		if o.cpuPeriod != 0 || o.cpuQuota != 0 {
			return fmt.Errorf("conflicting options: Nano CPUs and CPU Period cannot both be set")
		}
		r.NanoCPUs = int64(o.cpus * 1e9)
	}
	r.CPUShares, r.CPUPeriod, r.CPUQuota = o.cpuShares, o.cpuPeriod, o.cpuQuota
	r.CpusetCpus, r.CpusetMems = o.cpusetCpus, o.cpusetMems
	r.BlkioWeight = o.blkioWeight
	r.CgroupParent = o.cgroupParent
	r.DeviceCgroupRules = o.deviceCgroupRules
	for _, u := range o.ulimits {
		ul, err := units.ParseUlimit(u)
		if err != nil {
			return fmt.Errorf("invalid argument %q for \"--ulimit\" flag: %v", u, err)
		}
		r.Ulimits = append(r.Ulimits, ul)
	}
	for _, d := range o.devices {
		dm, err := parseDevice(d)
		if err != nil {
			return err
		}
		r.Devices = append(r.Devices, dm)
	}
	return nil
}

func parseDevice(s string) (container.DeviceMapping, error) {
	parts := strings.Split(s, ":")
	dm := container.DeviceMapping{PathOnHost: parts[0], PathInContainer: parts[0], CgroupPermissions: "rwm"}
	switch len(parts) {
	case 1:
	case 2:
		if isPerms(parts[1]) {
			dm.CgroupPermissions = parts[1]
		} else {
			dm.PathInContainer = parts[1]
		}
	case 3:
		if !isPerms(parts[2]) {
			return dm, fmt.Errorf("invalid device mode: %s", parts[2])
		}
		dm.PathInContainer, dm.CgroupPermissions = parts[1], parts[2]
	default:
		return dm, fmt.Errorf("invalid device specification: %s", s)
	}
	return dm, nil
}

func isPerms(s string) bool {
	return s != "" && strings.Trim(s, "rwm") == ""
}

// parseRestart reads no | always | unless-stopped | on-failure[:N].
func parseRestart(s string) (container.RestartPolicy, error) {
	name, max, hasMax := strings.Cut(s, ":")
	p := container.RestartPolicy{Name: container.RestartPolicyMode(name)}
	switch p.Name {
	case "", container.RestartPolicyDisabled, container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		if hasMax {
			return p, fmt.Errorf("invalid restart policy format: maximum retry count can only be used with 'on-failure'")
		}
	case container.RestartPolicyOnFailure:
		if hasMax {
			n, err := strconv.Atoi(max)
			if err != nil {
				return p, fmt.Errorf("invalid restart policy format: maximum retry count must be an integer")
			}
			p.MaximumRetryCount = n
		}
	default:
		return p, fmt.Errorf("invalid restart policy format: unknown policy '%s'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'", name)
	}
	return p, nil
}

// addPublish reads -p [ip:][hostPort:]containerPort[/proto] (ranges too).
func addPublish(cfg *container.Config, hc *container.HostConfig, spec string) error {
	rest, proto, _ := strings.Cut(spec, "/")
	if proto == "" {
		proto = "tcp"
	}
	var hostIP, hostPort, ctrPort string
	// An IPv6 host address comes in brackets.
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 {
			return fmt.Errorf("invalid IP address: %s", spec)
		}
		hostIP, rest = rest[1:end], strings.TrimPrefix(rest[end+1:], ":")
	}
	parts := strings.Split(rest, ":")
	switch len(parts) {
	case 1:
		ctrPort = parts[0]
	case 2:
		hostPort, ctrPort = parts[0], parts[1]
	case 3:
		hostIP, hostPort, ctrPort = parts[0], parts[1], parts[2]
	default:
		return fmt.Errorf("invalid port format for --publish: %s", spec)
	}
	cr, err := network.ParsePortRange(ctrPort + "/" + proto)
	if err != nil {
		return fmt.Errorf("invalid containerPort: %s", ctrPort)
	}
	var ip netip.Addr
	if hostIP != "" {
		if ip, err = netip.ParseAddr(hostIP); err != nil {
			return fmt.Errorf("invalid IP address: %s", hostIP)
		}
	}
	// A host range maps port by port onto the container range.
	var hostStart, hostEnd uint64
	if hostPort != "" {
		lo, hi, isRange := strings.Cut(hostPort, "-")
		if hostStart, err = strconv.ParseUint(lo, 10, 16); err != nil {
			return fmt.Errorf("invalid hostPort: %s", hostPort)
		}
		hostEnd = hostStart
		if isRange {
			if hostEnd, err = strconv.ParseUint(hi, 10, 16); err != nil {
				return fmt.Errorf("invalid hostPort: %s", hostPort)
			}
		}
	}
	if cfg.ExposedPorts == nil {
		cfg.ExposedPorts = network.PortSet{}
	}
	if hc.PortBindings == nil {
		hc.PortBindings = network.PortMap{}
	}
	n := uint64(cr.End() - cr.Start())
	i := uint64(0)
	for p := range cr.All() {
		cfg.ExposedPorts[p] = struct{}{}
		b := network.PortBinding{HostIP: ip}
		switch {
		case hostPort == "":
		case hostEnd-hostStart == n:
			b.HostPort = strconv.FormatUint(hostStart+i, 10)
		default:
			// docker: a host range larger than the container's lets the
			// daemon pick within it.
			b.HostPort = hostPort
		}
		hc.PortBindings[p] = append(hc.PortBindings[p], b)
		i++
	}
	return nil
}

// parseMount reads --mount's CSV: type=bind,source=/a,target=/b,readonly.
func parseMount(s string) (mount.Mount, error) {
	r := csv.NewReader(strings.NewReader(s))
	fields, err := r.Read()
	if err != nil {
		return mount.Mount{}, err
	}
	m := mount.Mount{Type: mount.TypeVolume}
	for _, f := range fields {
		k, v, hasV := strings.Cut(f, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		boolVal := func() (bool, error) {
			if !hasV {
				return true, nil
			}
			return strconv.ParseBool(v)
		}
		switch k {
		case "type":
			m.Type = mount.Type(strings.ToLower(v))
		case "source", "src":
			m.Source = v
		case "target", "dst", "destination":
			m.Target = v
		case "readonly", "ro":
			if m.ReadOnly, err = boolVal(); err != nil {
				return m, fmt.Errorf("invalid value for %s: %s", k, v)
			}
		case "bind-propagation":
			bindOpts(&m).Propagation = mount.Propagation(v)
		case "bind-nonrecursive":
			if bindOpts(&m).NonRecursive, err = boolVal(); err != nil {
				return m, fmt.Errorf("invalid value for %s: %s", k, v)
			}
		case "bind-create-mountpoint":
			if bindOpts(&m).CreateMountpoint, err = boolVal(); err != nil {
				return m, fmt.Errorf("invalid value for %s: %s", k, v)
			}
		case "volume-nocopy":
			if volOpts(&m).NoCopy, err = boolVal(); err != nil {
				return m, fmt.Errorf("invalid value for %s: %s", k, v)
			}
		case "volume-subpath":
			volOpts(&m).Subpath = v
		case "volume-driver":
			volOpts(&m).DriverConfig = &mount.Driver{Name: v}
		case "volume-label":
			vo := volOpts(&m)
			if vo.Labels == nil {
				vo.Labels = map[string]string{}
			}
			lk, lv, _ := strings.Cut(v, "=")
			vo.Labels[lk] = lv
		case "volume-opt":
			vo := volOpts(&m)
			if vo.DriverConfig == nil {
				vo.DriverConfig = &mount.Driver{}
			}
			if vo.DriverConfig.Options == nil {
				vo.DriverConfig.Options = map[string]string{}
			}
			ok, ov, _ := strings.Cut(v, "=")
			vo.DriverConfig.Options[ok] = ov
		case "tmpfs-size":
			n, err := units.RAMInBytes(v)
			if err != nil {
				return m, fmt.Errorf("invalid value for %s: %s", k, v)
			}
			tmpfsOpts(&m).SizeBytes = n
		case "tmpfs-mode":
			n, err := strconv.ParseUint(v, 8, 32)
			if err != nil {
				return m, fmt.Errorf("invalid value for %s: %s", k, v)
			}
			tmpfsOpts(&m).Mode = os.FileMode(n)
		case "consistency":
			m.Consistency = mount.Consistency(v)
		default:
			return m, fmt.Errorf("unexpected key '%s' in '%s'", k, f)
		}
	}
	if m.Target == "" {
		return m, fmt.Errorf("target is required")
	}
	return m, nil
}

func bindOpts(m *mount.Mount) *mount.BindOptions {
	if m.BindOptions == nil {
		m.BindOptions = &mount.BindOptions{}
	}
	return m.BindOptions
}

func volOpts(m *mount.Mount) *mount.VolumeOptions {
	if m.VolumeOptions == nil {
		m.VolumeOptions = &mount.VolumeOptions{}
	}
	return m.VolumeOptions
}

func tmpfsOpts(m *mount.Mount) *mount.TmpfsOptions {
	if m.TmpfsOptions == nil {
		m.TmpfsOptions = &mount.TmpfsOptions{}
	}
	return m.TmpfsOptions
}

// securityOpts passes options through, except seccomp=FILE, whose profile
// docker sends inline.
func securityOpts(in []string) ([]string, error) {
	var out []string
	for _, o := range in {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			k, v, ok = strings.Cut(o, ":")
		}
		if ok && k == "seccomp" && v != "unconfined" && v != "builtin" {
			b, err := os.ReadFile(v)
			if err != nil {
				return nil, fmt.Errorf("opening seccomp profile (%s) failed: %v", v, err)
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, b); err != nil {
				return nil, fmt.Errorf("compacting json for seccomp profile (%s) failed: %v", v, err)
			}
			o = "seccomp=" + buf.String()
		}
		out = append(out, o)
	}
	return out, nil
}

func parsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return ocispec.Platform{}, fmt.Errorf("invalid platform %q: want os/arch[/variant]", s)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// expandEnv gives NAME (no "=") the value of the CLI's own environment,
// dropping it when unset, as docker does.
func expandEnv(in []string) []string {
	var out []string
	for _, e := range in {
		if strings.Contains(e, "=") {
			out = append(out, e)
		} else if v, ok := os.LookupEnv(e); ok {
			out = append(out, e+"="+v)
		}
	}
	return out
}

// readKVFiles reads docker's env/label files: KEY=VALUE lines, # comments,
// a bare KEY taken from the environment.
func readKVFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimLeft(sc.Text(), " \t")
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			out = append(out, expandEnv([]string{line})...)
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
	}
	return out, nil
}

func kvMap(in []string) map[string]string {
	if len(in) == 0 {
		return nil
	}
	m := make(map[string]string, len(in))
	for _, kv := range in {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}
