package volume

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/mount"

	"github.com/gorae/gorae/internal/errdefs"
)

// MountPoint is one mount of a container, as its record keeps it and as
// `docker inspect` shows it (Type … Propagation are Docker's fields).
type MountPoint struct {
	Type        mount.Type        `json:"Type"`
	Name        string            `json:"Name,omitempty"`
	Source      string            `json:"Source"`
	Destination string            `json:"Destination"`
	Driver      string            `json:"Driver,omitempty"`
	Mode        string            `json:"Mode"`
	RW          bool              `json:"RW"`
	Propagation mount.Propagation `json:"Propagation"`
	// CopyData: at each start, an empty volume first receives the
	// image's content at Destination (Docker's copy-up; nocopy ends it).
	CopyData bool `json:"CopyData,omitempty"`
	// Spec is what the user asked for. An empty Spec.Source on a volume
	// means an anonymous one: `rm -v` removes it.
	Spec mount.Mount `json:"Spec"`
	// TmpfsData is a tmpfs mount's options (size=…,mode=…).
	TmpfsData string `json:"TmpfsData,omitempty"`
	// CreateSource: a missing bind source is made (-v), not refused
	// (--mount).
	CreateSource bool `json:"CreateSource,omitempty"`
}

// Anonymous says the mount's volume was made for the container.
func (m *MountPoint) Anonymous() bool { return m.Type == mount.TypeVolume && m.Spec.Source == "" }

func errInvalidSpec(raw string) error {
	return errdefs.InvalidParameter(fmt.Errorf("invalid volume specification: '%s'", raw))
}

func errMountConfig(m mount.Mount, format string, args ...any) error {
	return errdefs.InvalidParameter(fmt.Errorf("invalid mount config for type %q: %s", m.Type, fmt.Sprintf(format, args...)))
}

// validModes says whether a -v mode list is Docker's: at most one of
// each kind (rw/ro, label, propagation, copy, consistency).
func validModes(mode string) bool {
	if mode == "" {
		return true
	}
	var count [5]int
	for _, o := range strings.Split(mode, ",") {
		switch o {
		case "rw", "ro":
			count[0]++
		case "z", "Z":
			count[1]++
		case "private", "rprivate", "shared", "rshared", "slave", "rslave":
			count[2]++
		case "nocopy":
			count[3]++
		case "consistent", "cached", "delegated":
			count[4]++
		default:
			return false
		}
	}
	for _, n := range count {
		if n > 1 {
			return false
		}
	}
	return true
}

func modeHas(mode string, words ...string) string {
	for _, o := range strings.Split(mode, ",") {
		for _, w := range words {
			if o == w {
				return o
			}
		}
	}
	return ""
}

// ParseBind reads one -v (HostConfig.Binds) entry as Docker does:
// [SOURCE:]DEST[:MODE]; an absolute SOURCE is a bind, any other a volume
// name, none an anonymous volume.
func ParseBind(raw string) (*MountPoint, error) {
	arr := strings.SplitN(raw, ":", 4)
	if arr[0] == "" {
		return nil, errInvalidSpec(raw)
	}
	var spec mount.Mount
	mode := ""
	switch len(arr) {
	case 1:
		spec.Target = arr[0]
	case 2:
		if validModes(arr[1]) {
			// DEST:MODE is no volume: volumes cannot have a mode alone.
			return nil, errInvalidSpec(raw)
		}
		spec.Source, spec.Target = arr[0], arr[1]
	case 3:
		spec.Source, spec.Target, mode = arr[0], arr[1], arr[2]
	default:
		return nil, errInvalidSpec(raw)
	}
	if !validModes(mode) {
		return nil, errdefs.InvalidParameter(fmt.Errorf("invalid mode: %s", mode))
	}
	spec.Type = mount.TypeVolume
	if path.IsAbs(spec.Source) {
		spec.Type = mount.TypeBind
	}
	spec.ReadOnly = modeHas(mode, "ro") != ""
	if modeHas(mode, "nocopy") != "" {
		spec.VolumeOptions = &mount.VolumeOptions{NoCopy: true}
	}
	if p := modeHas(mode, "private", "rprivate", "shared", "rshared", "slave", "rslave"); p != "" {
		spec.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(p)}
	}
	mp, err := parseSpec(spec, true)
	if err != nil {
		return nil, fmt.Errorf("invalid volume specification: '%s': %w", raw, err)
	}
	mp.Mode = mode
	return mp, nil
}

// ParseMount validates one --mount (HostConfig.Mounts) entry and makes
// its mount point.
func ParseMount(m mount.Mount) (*MountPoint, error) {
	return parseSpec(m, false)
}

func parseSpec(m mount.Mount, fromBind bool) (*MountPoint, error) {
	if m.Target == "" {
		return nil, errMountConfig(m, "field Target must not be empty")
	}
	if !path.IsAbs(m.Target) {
		return nil, errMountConfig(m, "invalid mount path: '%s' mount path must be absolute", m.Target)
	}
	if path.Clean(m.Target) == "/" {
		return nil, errMountConfig(m, "invalid specification: destination can't be '/'")
	}
	mp := &MountPoint{Type: m.Type, Destination: path.Clean(m.Target), RW: !m.ReadOnly, Spec: m}
	switch m.Type {
	case mount.TypeBind:
		if m.VolumeOptions != nil {
			return nil, errMountConfig(m, "field VolumeOptions must not be specified")
		}
		if m.TmpfsOptions != nil {
			return nil, errMountConfig(m, "field TmpfsOptions must not be specified")
		}
		if m.Source == "" {
			return nil, errMountConfig(m, "field Source must not be empty")
		}
		if !path.IsAbs(m.Source) {
			return nil, errMountConfig(m, "invalid mount path: '%s' mount path must be absolute", m.Source)
		}
		mp.Source = filepath.Clean(m.Source)
		mp.Propagation = mount.PropagationRPrivate
		if m.BindOptions != nil && m.BindOptions.Propagation != "" {
			mp.Propagation = m.BindOptions.Propagation
		}
		mp.CreateSource = fromBind || (m.BindOptions != nil && m.BindOptions.CreateMountpoint)
	case mount.TypeVolume:
		if m.BindOptions != nil && !fromBind {
			return nil, errMountConfig(m, "field BindOptions must not be specified")
		}
		if m.TmpfsOptions != nil {
			return nil, errMountConfig(m, "field TmpfsOptions must not be specified")
		}
		if m.Source == "" && m.ReadOnly && !fromBind {
			return nil, errMountConfig(m, "must not set ReadOnly mode when using anonymous volumes")
		}
		if m.Source != "" {
			if err := ValidateName(m.Source); err != nil {
				return nil, err
			}
		}
		mp.Name = m.Source
		mp.Driver = DefaultDriver
		mp.CopyData = true
		if vo := m.VolumeOptions; vo != nil {
			mp.CopyData = !vo.NoCopy
			if vo.Subpath != "" {
				return nil, errdefs.NotImplemented(errors.New("volume subpath is not supported yet by gorae"))
			}
			if vo.DriverConfig != nil && vo.DriverConfig.Name != "" && vo.DriverConfig.Name != DefaultDriver {
				return nil, errdefs.NotFound(fmt.Errorf("error looking up volume plugin %s: plugin %q not found (gorae has only the local driver)", vo.DriverConfig.Name, vo.DriverConfig.Name))
			}
		}
		if m.BindOptions != nil {
			mp.Propagation = m.BindOptions.Propagation
		}
	case mount.TypeTmpfs:
		if m.Source != "" {
			return nil, errMountConfig(m, "field Source must not be specified")
		}
		if m.BindOptions != nil {
			return nil, errMountConfig(m, "field BindOptions must not be specified")
		}
		if m.VolumeOptions != nil {
			return nil, errMountConfig(m, "field VolumeOptions must not be specified")
		}
		data, err := tmpfsData(m.TmpfsOptions, m.ReadOnly)
		if err != nil {
			return nil, errMountConfig(m, "%v", err)
		}
		mp.TmpfsData = data
	case "":
		return nil, errdefs.InvalidParameter(errors.New("invalid mount config: mount type unknown"))
	default:
		return nil, errdefs.InvalidParameter(fmt.Errorf("invalid mount config for type %q: mount type unknown (bind, volume, tmpfs)", m.Type))
	}
	return mp, nil
}

// tmpfsData turns --mount's tmpfs options into mount data, as Docker:
// the size with the largest unit that divides it.
func tmpfsData(o *mount.TmpfsOptions, ro bool) (string, error) {
	var raw []string
	if ro {
		raw = append(raw, "ro")
	}
	if o == nil {
		return strings.Join(raw, ","), nil
	}
	if o.Mode != 0 {
		raw = append(raw, fmt.Sprintf("mode=%o", uint32(o.Mode)))
	}
	if o.SizeBytes < 0 {
		return "", fmt.Errorf("invalid tmpfs size %d", o.SizeBytes)
	}
	if size := o.SizeBytes; size != 0 {
		suffix := ""
		for _, u := range []struct {
			s string
			d int64
		}{{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
			if size%u.d == 0 {
				size, suffix = size/u.d, u.s
				break
			}
		}
		raw = append(raw, fmt.Sprintf("size=%d%s", size, suffix))
	}
	for _, kv := range o.Options {
		switch len(kv) {
		case 1:
			raw = append(raw, kv[0])
		case 2:
			raw = append(raw, kv[0]+"="+kv[1])
		default:
			return "", fmt.Errorf("invalid tmpfs option %q", kv)
		}
	}
	_, err := TmpfsOptions(strings.Join(raw, ","))
	return strings.Join(raw, ","), err
}

// tmpfsFlags are the word options a tmpfs accepts; tmpfsData are its
// key=value ones. The flag of a word is the kind it collides with.
var (
	tmpfsFlags = map[string]string{
		"ro": "ro", "rw": "ro", "suid": "suid", "nosuid": "suid", "dev": "dev", "nodev": "dev",
		"exec": "exec", "noexec": "exec", "sync": "sync", "async": "sync", "dirsync": "dirsync",
		"mand": "mand", "nomand": "mand", "atime": "atime", "noatime": "atime",
		"diratime": "diratime", "nodiratime": "diratime", "relatime": "relatime", "norelatime": "relatime",
		"strictatime": "strictatime", "nostrictatime": "strictatime",
		"private": "prop", "rprivate": "prop", "shared": "prop", "rshared": "prop", "slave": "prop", "rslave": "prop",
		"unbindable": "prop", "runbindable": "prop",
	}
	tmpfsDataKeys = map[string]bool{"size": true, "mode": true, "uid": true, "gid": true, "nr_inodes": true, "nr_blocks": true, "mpol": true}
)

// TmpfsOptions validates a --tmpfs option list (after Docker's defaults
// noexec,nosuid,nodev) and merges it as Docker does: a later option
// overrides an earlier one of its kind.
func TmpfsOptions(opts string) ([]string, error) {
	all := []string{"noexec", "nosuid", "nodev"}
	if opts != "" {
		all = append(all, strings.Split(opts, ",")...)
	}
	seen := map[string]bool{}
	var out []string
	for i := len(all) - 1; i >= 0; i-- {
		o := all[i]
		if o == "defaults" || o == "" {
			continue
		}
		key := tmpfsFlags[o]
		if key == "" {
			k, v, ok := strings.Cut(o, "=")
			if !ok || !tmpfsDataKeys[k] || v == "" {
				return nil, errdefs.InvalidParameter(fmt.Errorf("invalid tmpfs option %q", o))
			}
			if k == "size" || k == "mode" || k == "uid" || k == "gid" {
				if err := checkTmpfsValue(k, v); err != nil {
					return nil, err
				}
			}
			key = "=" + k
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append([]string{o}, out...)
	}
	return out, nil
}

func checkTmpfsValue(k, v string) error {
	var err error
	switch k {
	case "mode":
		_, err = strconv.ParseUint(v, 8, 32)
	case "uid", "gid":
		_, err = strconv.ParseUint(v, 10, 32)
	case "size":
		num := strings.TrimRight(v, "kKmMgGtTpPeE%")
		if num == "" || len(v)-len(num) > 1 {
			err = errors.New("bad size")
		} else {
			_, err = strconv.ParseUint(num, 10, 64)
		}
	}
	if err != nil {
		return errdefs.InvalidParameter(fmt.Errorf("invalid tmpfs option %s=%q", k, v))
	}
	return nil
}

// ParseVolumesFrom reads one --volumes-from entry, CONTAINER[:MODE], as
// Docker: no propagation or copy mode (the mounts keep their own).
func ParseVolumesFrom(spec string) (ref, mode string, err error) {
	ref, mode, _ = strings.Cut(spec, ":")
	if ref == "" {
		return "", "", errdefs.InvalidParameter(fmt.Errorf("malformed volumes-from specification: %q", spec))
	}
	if mode == "" {
		return ref, "rw", nil
	}
	if !validModes(mode) || modeHas(mode, "private", "rprivate", "shared", "rshared", "slave", "rslave", "nocopy") != "" {
		return "", "", errdefs.InvalidParameter(fmt.Errorf("invalid mode: %s", mode))
	}
	return ref, mode, nil
}
