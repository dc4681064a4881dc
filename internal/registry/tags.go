package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/distribution/reference"
)

// Bounds on a tag listing: a hostile registry must not make us loop or
// allocate without end.
const (
	maxTags         = 10000
	maxTagsPage     = 4 << 20
	maxTagsRequests = 100
)

// Tags lists the tags of ref's repository (GET /v2/NAME/tags/list,
// following the Link header from page to page), for `docker pull -a`.
func (c *Client) Tags(ctx context.Context, ref reference.Named, auth *AuthConfig) ([]string, error) {
	domain, path := splitName(ref)
	eps := c.Hosts.endpoints(domain, false)
	r, err := c.open(ctx, eps[len(eps)-1], domain, path, auth, "pull")
	if err != nil {
		return nil, err
	}
	next := r.url("tags/list?n=1000")
	var tags []string
	for i := 0; next != "" && i < maxTagsRequests; i++ {
		resp, err := r.do(ctx, http.MethodGet, next, nil, nil, http.StatusOK)
		if err != nil {
			return nil, fmt.Errorf("%s: list tags: %w", r, err)
		}
		page, link, err := readTagsPage(resp)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: list tags: %w", r, err)
		}
		tags = append(tags, page...)
		if len(tags) > maxTags {
			return nil, fmt.Errorf("%s: more than %d tags: pull them by name", r, maxTags)
		}
		next = ""
		if link != "" {
			u, err := resp.Request.URL.Parse(link)
			if err != nil || u.Host != resp.Request.URL.Host {
				return nil, fmt.Errorf("%s: list tags: the next page %q is not on the registry", r, link)
			}
			next = u.String()
		}
	}
	return tags, nil
}

// readTagsPage reads one page of a tag listing: its tags (each a valid
// tag) and the next page's URL from the Link header, if any.
func readTagsPage(resp *http.Response) (tags []string, next string, err error) {
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxTagsPage+1))
	if err != nil {
		return nil, "", err
	}
	if len(data) > maxTagsPage {
		return nil, "", fmt.Errorf("a page of more than %d bytes", maxTagsPage)
	}
	return parseTagsPage(data, resp.Header.Get("Link"))
}

var tagPattern = reference.TagRegexp

func parseTagsPage(data []byte, link string) (tags []string, next string, err error) {
	var page struct {
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(data, &page); err != nil {
		return nil, "", fmt.Errorf("not a tag list: %w", err)
	}
	for _, t := range page.Tags {
		if t == "" || tagPattern.FindString(t) != t {
			return nil, "", fmt.Errorf("%q is not a valid tag", t)
		}
	}
	return page.Tags, nextLink(link), nil
}

// nextLink is the URL of rel="next" in a Link header
// (`</v2/app/tags/list?last=x&n=100>; rel="next"`), or "".
func nextLink(h string) string {
	for _, part := range strings.Split(h, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "rel") && strings.Trim(v, `"`) == "next" {
				if u, err := url.Parse(target[1 : len(target)-1]); err == nil {
					return u.String()
				}
			}
		}
	}
	return ""
}
