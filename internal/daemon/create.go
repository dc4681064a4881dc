package daemon

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"math/big"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	ctrstore "github.com/gorae/gorae/internal/container"
	"github.com/gorae/gorae/internal/errdefs"
	"github.com/gorae/gorae/internal/image"
	"github.com/gorae/gorae/internal/logs"
)

// ContainerCreate makes a container from an image: its record, and its
// writable layer on top of the image's unpacked layers.
func (d *Daemon) ContainerCreate(ctx context.Context, name string, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig, platform *ocispec.Platform) (_ container.CreateResponse, retErr error) {
	var resp container.CreateResponse
	if cfg == nil {
		return resp, errdefs.InvalidParameter(errors.New("config cannot be empty in order to create a container"))
	}
	if hc == nil {
		hc = &container.HostConfig{}
	}
	if err := validateHostConfig(hc); err != nil {
		return resp, err
	}
	if cfg.Image == "" {
		return resp, errdefs.InvalidParameter(errors.New("no image given: an image is required to create a container"))
	}
	img, err := d.images.Get(ctx, cfg.Image)
	if err != nil {
		if errors.Is(err, image.ErrNotFound) {
			return resp, errdefs.NotFound(fmt.Errorf("No such image: %s", familiar(cfg.Image)))
		}
		return resp, errdefs.InvalidParameter(err)
	}
	merged := mergeImageConfig(cfg, img.Config)
	if len(merged.Entrypoint) == 0 && len(merged.Cmd) == 0 {
		return resp, errdefs.InvalidParameter(errors.New("no command specified"))
	}
	if _, err := d.runtimeArgv(hc.Runtime); err != nil {
		return resp, errdefs.InvalidParameter(err)
	}
	normalizeNetworkMode(hc)
	// What start would refuse (a bad seccomp profile, capability,
	// security option …) is refused now, before anything is made.
	if _, err := renderSpec(d.specInput(strings.Repeat("0", 64), "/", merged, hc, specs.User{})); err != nil {
		return resp, err
	}
	networks, err := d.createNetworks(hc, nc)
	if err != nil {
		return resp, err
	}
	generated := name == ""
	if generated {
		name = d.generateName()
	}
	if name, err = ctrstore.NormalizeName(name); err != nil {
		return resp, err
	}
	if err := d.images.Unpack(ctx, img.ID, layerStore{d.snapshots}); err != nil {
		return resp, fmt.Errorf("unpack image %s: %w", familiar(cfg.Image), err)
	}
	c := ctrstore.New(ctrstore.NewID(), name)
	c.Config = merged
	c.HostConfig = hc
	c.Image = img.ID.String()
	c.ImageName = cfg.Image
	c.Networks = networks
	c.Runtime = hc.Runtime
	if c.Runtime == "" {
		c.Runtime = d.cfg.DefaultRuntime
	}
	if args := append(append([]string(nil), merged.Entrypoint...), merged.Cmd...); len(args) > 0 {
		c.Path, c.Args = args[0], args[1:]
	}
	c.LogPath = d.containers.Dir(c.ID) + "/" + c.ID + "-json.log"
	parent := ""
	if ids := img.ChainIDs(); len(ids) > 0 {
		parent = ids[len(ids)-1].String()
	}
	if _, err := d.snapshots.Prepare(ctx, c.ID, parent); err != nil {
		return resp, fmt.Errorf("prepare container layer: %w", err)
	}
	defer func() {
		if retErr != nil {
			d.snapshots.Remove(context.WithoutCancel(ctx), c.ID)
		}
	}()
	undoMounts, err := d.createMounts(ctx, c)
	if err != nil {
		return resp, err
	}
	defer func() {
		if retErr != nil {
			undoMounts()
		}
	}()
	err = d.containers.Add(c)
	// Two creates at once may draw the same generated name; the store
	// gives it to one of them, the other draws again.
	for i := 0; generated && errdefs.IsConflict(err) && i < 20; i++ {
		c.Name = "/" + d.generateName()
		err = d.containers.Add(c)
	}
	if err != nil {
		return resp, err
	}
	d.events.publish(events.ContainerEventType, events.ActionCreate, c.ID, d.eventAttrs(c))
	resp.ID = c.ID
	resp.Warnings = []string{}
	return resp, nil
}

func validateHostConfig(hc *container.HostConfig) error {
	if err := validateNetworking(hc); err != nil {
		return err
	}
	if hc.AutoRemove && hc.RestartPolicy.Name != "" && hc.RestartPolicy.Name != container.RestartPolicyDisabled {
		return errdefs.InvalidParameter(errors.New("can't create 'AutoRemove' container with restart policy"))
	}
	switch hc.RestartPolicy.Name {
	case "", container.RestartPolicyDisabled, container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		if hc.RestartPolicy.MaximumRetryCount != 0 {
			return errdefs.InvalidParameter(fmt.Errorf("maximum retry count cannot be used with restart policy '%s'", hc.RestartPolicy.Name))
		}
	case container.RestartPolicyOnFailure:
		if hc.RestartPolicy.MaximumRetryCount < 0 {
			return errdefs.InvalidParameter(errors.New("maximum retry count cannot be negative"))
		}
	default:
		return errdefs.InvalidParameter(fmt.Errorf("invalid restart policy '%s'", hc.RestartPolicy.Name))
	}
	if hc.LogConfig.Type != "" && hc.LogConfig.Type != "json-file" && hc.LogConfig.Type != "none" {
		return errdefs.InvalidParameter(fmt.Errorf("log driver %q is not supported (json-file, none)", hc.LogConfig.Type))
	}
	if hc.LogConfig.Type == "json-file" || hc.LogConfig.Type == "" {
		if _, err := logs.ParseOptions(hc.LogConfig.Config); err != nil {
			return errdefs.InvalidParameter(err)
		}
	}
	return nil
}

// mergeImageConfig fills what the container's config leaves unset from
// the image's, as Docker does at create.
func mergeImageConfig(cfg *container.Config, ic *image.Config) *container.Config {
	out := *cfg
	if ic == nil {
		return &out
	}
	i := ic.Config
	if out.User == "" {
		out.User = i.User
	}
	if out.WorkingDir == "" {
		out.WorkingDir = i.WorkingDir
	}
	if len(out.Entrypoint) == 0 && cfg.Entrypoint == nil {
		out.Entrypoint = i.Entrypoint
		if len(out.Cmd) == 0 {
			out.Cmd = i.Cmd
		}
	}
	// An entrypoint given on the command line drops the image's Cmd
	// (Docker's rule), so nothing else to do when cfg.Entrypoint is set.
	env := map[string]int{}
	var merged []string
	for _, e := range i.Env {
		k, _, _ := strings.Cut(e, "=")
		env[k] = len(merged)
		merged = append(merged, e)
	}
	for _, e := range cfg.Env {
		k, _, _ := strings.Cut(e, "=")
		if idx, ok := env[k]; ok {
			merged[idx] = e
			continue
		}
		env[k] = len(merged)
		merged = append(merged, e)
	}
	out.Env = merged
	if len(i.Labels) > 0 {
		labels := map[string]string{}
		for k, v := range i.Labels {
			labels[k] = v
		}
		for k, v := range cfg.Labels {
			labels[k] = v
		}
		out.Labels = labels
	}
	if out.StopSignal == "" {
		out.StopSignal = i.StopSignal
	}
	if out.Healthcheck == nil && i.Healthcheck != nil {
		h := i.Healthcheck
		out.Healthcheck = &container.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
	}
	if len(i.ExposedPorts) > 0 && out.ExposedPorts == nil {
		out.ExposedPorts = network.PortSet{}
	}
	for p := range i.ExposedPorts {
		if pr, err := network.ParsePort(p); err == nil {
			out.ExposedPorts[pr] = struct{}{}
		}
	}
	if len(i.Volumes) > 0 && out.Volumes == nil {
		out.Volumes = map[string]struct{}{}
	}
	for v := range i.Volumes {
		out.Volumes[v] = struct{}{}
	}
	return &out
}

func familiar(ref string) string {
	if r, err := image.ParseReference(ref); err == nil {
		return image.FamiliarString(r)
	}
	return ref
}

// generateName picks an unused adjective_noun name, as Docker does.
func (d *Daemon) generateName() string {
	for i := 0; ; i++ {
		a, _ := rand.Int(rand.Reader, big.NewInt(int64(len(nameLeft))))
		b, _ := rand.Int(rand.Reader, big.NewInt(int64(len(nameRight))))
		n := nameLeft[a.Int64()] + "_" + nameRight[b.Int64()]
		if i > 10 {
			n += fmt.Sprint(i)
		}
		if _, err := d.containers.Get("/" + n); errdefs.IsNotFound(err) {
			return n
		}
	}
}

// Our own word lists: whales and the sea, for a whale of an engine.
var (
	nameLeft = []string{
		"agile", "bold", "brave", "bright", "calm", "clever", "cosmic", "curious", "daring", "deep",
		"eager", "fierce", "gentle", "glad", "grand", "happy", "hardy", "humble", "jolly", "keen",
		"kind", "lively", "lucid", "mighty", "merry", "nimble", "noble", "patient", "playful", "proud",
		"quiet", "rapid", "serene", "sharp", "silent", "sleek", "steady", "swift", "tidal", "vivid",
		"wandering", "wise", "witty", "zealous",
	}
	nameRight = []string{
		"beluga", "narwhal", "orca", "humpback", "minke", "sei", "fin", "bowhead", "gray", "sperm",
		"pilot", "dolphin", "porpoise", "manatee", "dugong", "seal", "walrus", "otter", "albatross",
		"petrel", "kelp", "coral", "reef", "tide", "current", "lagoon", "atoll", "fjord", "trench",
		"abyss", "krill", "plankton", "anemone", "nautilus", "octopus", "squid", "urchin", "starfish",
		"seahorse", "barnacle", "lantern", "marlin", "tuna", "halibut",
	}
)

func (d *Daemon) eventAttrs(c *ctrstore.Container) map[string]string {
	attrs := map[string]string{"name": strings.TrimPrefix(c.Name, "/"), "image": c.ImageName}
	if c.Config != nil {
		for k, v := range c.Config.Labels {
			attrs[k] = v
		}
	}
	return attrs
}
