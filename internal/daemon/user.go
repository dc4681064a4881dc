package daemon

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gorae/gorae/internal/errdefs"
)

// resolveUser turns Docker's --user (name, uid, name:group, uid:gid) into
// numeric ids and supplementary groups from the container's own
// /etc/passwd and /etc/group, as Docker does at start.
func resolveUser(rootfs, user string, extraGroups []string) (specs.User, error) {
	u := specs.User{}
	name, group, hasGroup := strings.Cut(user, ":")
	passwd := readColonFile(rootfs, "/etc/passwd")
	groups := readColonFile(rootfs, "/etc/group")
	username := ""
	switch {
	case name == "" || name == "root":
		u.UID, u.GID, username = 0, 0, "root"
	case isNumber(name):
		n, _ := strconv.ParseUint(name, 10, 32)
		u.UID = uint32(n)
		for _, p := range passwd {
			if len(p) > 3 && p[2] == name {
				username = p[0]
				if g, err := strconv.ParseUint(p[3], 10, 32); err == nil {
					u.GID = uint32(g)
				}
				break
			}
		}
	default:
		found := false
		for _, p := range passwd {
			if len(p) > 3 && p[0] == name {
				uid, err1 := strconv.ParseUint(p[2], 10, 32)
				gid, err2 := strconv.ParseUint(p[3], 10, 32)
				if err1 != nil || err2 != nil {
					continue
				}
				u.UID, u.GID, username, found = uint32(uid), uint32(gid), name, true
				break
			}
		}
		if !found {
			return u, errdefs.InvalidParameter(fmt.Errorf("unable to find user %s: no matching entries in passwd file", name))
		}
	}
	if hasGroup {
		gid, err := lookupGroup(groups, group)
		if err != nil {
			return u, err
		}
		u.GID = gid
	}
	// Supplementary groups: those listing the user, then --group-add.
	if username != "" {
		for _, g := range groups {
			if len(g) < 4 {
				continue
			}
			for _, member := range strings.Split(g[3], ",") {
				if member == username {
					if gid, err := strconv.ParseUint(g[2], 10, 32); err == nil && uint32(gid) != u.GID {
						u.AdditionalGids = append(u.AdditionalGids, uint32(gid))
					}
				}
			}
		}
	}
	for _, g := range extraGroups {
		gid, err := lookupGroup(groups, g)
		if err != nil {
			return u, err
		}
		u.AdditionalGids = append(u.AdditionalGids, gid)
	}
	return u, nil
}

func lookupGroup(groups [][]string, group string) (uint32, error) {
	if isNumber(group) {
		n, _ := strconv.ParseUint(group, 10, 32)
		return uint32(n), nil
	}
	for _, g := range groups {
		if len(g) > 2 && g[0] == group {
			if n, err := strconv.ParseUint(g[2], 10, 32); err == nil {
				return uint32(n), nil
			}
		}
	}
	return 0, errdefs.InvalidParameter(fmt.Errorf("unable to find group %s: no matching entries in group file", group))
}

func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

// readColonFile reads a passwd-style file inside the rootfs; a missing
// or unreadable file is empty, as for a scratch image.
func readColonFile(rootfs, name string) [][]string {
	p, err := securejoin.SecureJoin(rootfs, name)
	if err != nil {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.Split(line, ":"))
	}
	return out
}
