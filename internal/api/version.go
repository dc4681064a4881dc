package api

import (
	"strconv"
	"strings"
)

// splitVersion finds a "/vX.Y" prefix in path, as Docker's router's
// /{version:v[0-9.]+} does: it returns the version ("1.50") and the
// length of the prefix to strip, or "" and 0 if there is none.
func splitVersion(path string) (string, int) {
	if !strings.HasPrefix(path, "/v") {
		return "", 0
	}
	seg, _, found := strings.Cut(path[2:], "/")
	if !found || seg == "" || strings.Trim(seg, "0123456789.") != "" {
		return "", 0
	}
	return seg, 2 + len(seg)
}

// versionLess compares dotted versions numerically ("1.9" < "1.24"), a
// missing or malformed part counting as 0, as Docker's versions package.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}
