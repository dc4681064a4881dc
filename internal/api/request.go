package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gorae/gorae/internal/errdefs"
	"github.com/gorae/gorae/internal/image"
)

func invalidf(format string, args ...any) error {
	return errdefs.InvalidParameter(fmt.Errorf(format, args...))
}

// boolValue reads a flag as Docker does: absent, "", "0", "no", "false"
// and "none" are false, anything else true.
func boolValue(q url.Values, key string) bool {
	switch strings.ToLower(strings.TrimSpace(q.Get(key))) {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}

// boolOr is boolValue with a default for when the key is absent.
func boolOr(q url.Values, key string, def bool) bool {
	if _, ok := q[key]; !ok {
		return def
	}
	return boolValue(q, key)
}

// intValue reads an integer parameter; absent or empty gives def.
func intValue(q url.Values, key string, def int) (int, error) {
	v := q.Get(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, invalidf("invalid %s %q: not an integer", key, v)
	}
	return n, nil
}

// optionalInt is intValue for a parameter whose absence means "default".
func optionalInt(q url.Values, key string) (*int, error) {
	if q.Get(key) == "" {
		return nil, nil
	}
	n, err := intValue(q, key, 0)
	return &n, err
}

// timeValue reads since/until: a unix time "seconds[.fraction]" as the
// docker CLI sends, or an RFC 3339 time. Absent or 0 is the zero time,
// which the Backend reads as "no bound".
func timeValue(q url.Values, key string) (time.Time, error) {
	v := q.Get(key)
	if v == "" {
		return time.Time{}, nil
	}
	if t, ok := parseUnix(v); ok {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	return time.Time{}, invalidf("invalid %s %q: want a unix time (seconds[.nanoseconds]) or an RFC 3339 time", key, v)
}

func parseUnix(v string) (time.Time, bool) {
	secs, frac, hasFrac := strings.Cut(v, ".")
	if !allDigits(secs) || (hasFrac && !allDigits(frac)) {
		return time.Time{}, false
	}
	sec, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	var nsec int64
	if hasFrac {
		// Digits past nanoseconds are dropped, as Docker scales them.
		nsec, _ = strconv.ParseInt((frac + "000000000")[:9], 10, 64)
	}
	if sec == 0 && nsec == 0 {
		return time.Time{}, true
	}
	return time.Unix(sec, nsec), true
}

func allDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// tailValue reads logs' tail: "all" (or absent, or negative) is -1.
func tailValue(q url.Values) (int, error) {
	v := q.Get("tail")
	if v == "" || v == "all" {
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, invalidf("invalid tail %q: want a number of lines or \"all\"", v)
	}
	return max(n, -1), nil
}

// filtersValue decodes Docker's filters parameter: the JSON of
// map[string]map[string]bool that clients send today, or the legacy
// map[string][]string. Values come out sorted; nil if there are none.
func filtersValue(q url.Values) (map[string][]string, error) {
	v := q.Get("filters")
	if v == "" {
		return nil, nil
	}
	var sets map[string]map[string]bool
	if err := json.Unmarshal([]byte(v), &sets); err == nil {
		if len(sets) == 0 {
			return nil, nil
		}
		out := make(map[string][]string, len(sets))
		for k, set := range sets {
			vals := make([]string, 0, len(set))
			for val := range set {
				vals = append(vals, val)
			}
			slices.Sort(vals)
			out[k] = vals
		}
		return out, nil
	}
	var legacy map[string][]string
	if err := json.Unmarshal([]byte(v), &legacy); err != nil {
		return nil, invalidf("invalid filters %q: want JSON such as {\"status\":{\"running\":true}}", v)
	}
	if len(legacy) == 0 {
		return nil, nil
	}
	return legacy, nil
}

// platformValue reads a platform parameter ("linux/arm64"); nil if
// absent.
func platformValue(q url.Values) (*ocispec.Platform, error) {
	v := strings.TrimSpace(q.Get("platform"))
	if v == "" {
		return nil, nil
	}
	p, err := image.ParsePlatform(v)
	if err != nil {
		return nil, errdefs.InvalidParameter(err)
	}
	return &p, nil
}

// hasBody says whether the request carries a body: Docker treats a
// missing length as none, and a chunked (unknown) one as some.
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

// readJSON decodes a JSON request body into out, capped at the body
// limit. It reports whether there was a body; an absent body is not an
// error (the caller decides), but a malformed one is, and so is trailing
// content or a Content-Type other than JSON.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, out any) (bool, error) {
	if !hasBody(r) {
		return false, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return true, invalidf("unsupported Content-Type header (%s): must be 'application/json'", ct)
		}
	}
	body := http.MaxBytesReader(w, r.Body, s.opts.BodyLimit)
	dec := json.NewDecoder(body)
	if err := dec.Decode(out); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return true, err
		case errors.Is(err, io.EOF):
			return false, nil
		}
		return true, errdefs.InvalidParameter(fmt.Errorf("invalid JSON: %w", err))
	}
	var rest json.RawMessage
	if err := dec.Decode(&rest); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return true, err
		}
		return true, invalidf("invalid JSON: unexpected content after the JSON value")
	}
	return true, nil
}
