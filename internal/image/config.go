package image

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Config is an image config, OCI's or Docker's (the same document; Docker
// adds a few fields, kept here so that build and inspect see them).
type Config struct {
	Created      *time.Time        `json:"created,omitempty"`
	Author       string            `json:"author,omitempty"`
	Architecture string            `json:"architecture"`
	Variant      string            `json:"variant,omitempty"`
	OS           string            `json:"os"`
	OSVersion    string            `json:"os.version,omitempty"`
	OSFeatures   []string          `json:"os.features,omitempty"`
	Config       ContainerConfig   `json:"config"`
	RootFS       ocispec.RootFS    `json:"rootfs"`
	History      []ocispec.History `json:"history,omitempty"`

	// Docker's additions.
	Comment       string `json:"comment,omitempty"`
	DockerVersion string `json:"docker_version,omitempty"`
}

// ContainerConfig is the default run configuration of an image: OCI's
// ImageConfig plus Docker's Healthcheck, OnBuild and Shell. Its JSON is
// the "Config" of Docker's ImageInspect (API 1.50, DockerOCIImageConfig).
type ContainerConfig struct {
	User         string              `json:"User,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          []string            `json:"Env,omitempty"`
	Entrypoint   []string            `json:"Entrypoint,omitempty"`
	Cmd          []string            `json:"Cmd,omitempty"`
	Volumes      map[string]struct{} `json:"Volumes,omitempty"`
	WorkingDir   string              `json:"WorkingDir,omitempty"`
	Labels       map[string]string   `json:"Labels,omitempty"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	ArgsEscaped  bool                `json:"ArgsEscaped,omitempty"`
	Healthcheck  *HealthConfig       `json:"Healthcheck,omitempty"`
	OnBuild      []string            `json:"OnBuild,omitempty"`
	Shell        []string            `json:"Shell,omitempty"`
}

// HealthConfig is Docker's HEALTHCHECK; durations are nanoseconds in JSON,
// as Docker writes them.
type HealthConfig struct {
	Test          []string      `json:",omitempty"`
	Interval      time.Duration `json:",omitempty"`
	Timeout       time.Duration `json:",omitempty"`
	StartPeriod   time.Duration `json:",omitempty"`
	StartInterval time.Duration `json:",omitempty"`
	Retries       int           `json:",omitempty"`
}

// clone is a deep copy of c.
func (c ContainerConfig) clone() ContainerConfig {
	c.ExposedPorts = maps.Clone(c.ExposedPorts)
	c.Env = slices.Clone(c.Env)
	c.Entrypoint = slices.Clone(c.Entrypoint)
	c.Cmd = slices.Clone(c.Cmd)
	c.Volumes = maps.Clone(c.Volumes)
	c.Labels = maps.Clone(c.Labels)
	c.OnBuild = slices.Clone(c.OnBuild)
	c.Shell = slices.Clone(c.Shell)
	if c.Healthcheck != nil {
		h := *c.Healthcheck
		h.Test = slices.Clone(h.Test)
		c.Healthcheck = &h
	}
	return c
}

// ParseConfig parses and validates an image config.
func ParseConfig(data []byte) (*Config, error) {
	if len(data) > MaxConfigSize {
		return nil, invalid("config is %d bytes, more than the %d allowed", len(data), MaxConfigSize)
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, invalid("config is not valid JSON: %v", err)
	}
	if c.OS == "" || c.Architecture == "" {
		return nil, invalid("config lacks os or architecture (os %q, architecture %q)", c.OS, c.Architecture)
	}
	if c.RootFS.Type != "layers" {
		return nil, invalid("config rootfs.type is %q, want \"layers\"", c.RootFS.Type)
	}
	for i, d := range c.RootFS.DiffIDs {
		if err := d.Validate(); err != nil {
			return nil, invalid("config rootfs.diff_ids[%d] is %q: %v", i, d, err)
		}
	}
	return &c, nil
}

// Platform is the platform the config says the image runs on.
func (c *Config) Platform() ocispec.Platform {
	return NormalizePlatform(ocispec.Platform{OS: c.OS, Architecture: c.Architecture, Variant: c.Variant, OSVersion: c.OSVersion})
}

// ChainIDs computes the chain ID of every layer from the diff IDs, as the
// image spec defines them: a layer's chain ID names it together with
// everything under it, so two images share an unpacked layer exactly when
// they share its chain ID.
//
//	ChainID(L0) = DiffID(L0)
//	ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln))
func ChainIDs(diffIDs []digest.Digest) []digest.Digest {
	out := make([]digest.Digest, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		out[i] = digest.FromString(fmt.Sprintf("%s %s", out[i-1], d))
	}
	return out
}
