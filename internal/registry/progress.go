package registry

import "github.com/opencontainers/go-digest"

// Actions of Progress: Docker's own words, which the docker CLI shows
// beside each layer.
const (
	ActionPullingLayer   = "Pulling fs layer"
	ActionWaiting        = "Waiting"
	ActionDownloading    = "Downloading"
	ActionVerifying      = "Verifying Checksum"
	ActionDownloaded     = "Download complete"
	ActionAlreadyExists  = "Already exists"
	ActionPreparing      = "Preparing"
	ActionPushing        = "Pushing"
	ActionPushed         = "Pushed"
	ActionLayerExists    = "Layer already exists"
	ActionMountedFrom    = "Mounted from " // + repository
	ActionRetryingPrefix = "Retrying"      // "Retrying in N seconds"
)

// Progress is one step of one blob's transfer.
type Progress struct {
	// ID is the short form of the blob's digest (12 hex digits), as
	// Docker shows layers.
	ID     string
	Action string
	// Current and Total are bytes, during Downloading and Pushing.
	Current, Total int64
}

// ShortID is the 12-digit form of a digest Docker shows for layers.
func ShortID(d digest.Digest) string {
	e := d.Encoded()
	if len(e) > 12 {
		e = e[:12]
	}
	return e
}

// reporter sends Progress to a callback that may be nil, and throttles
// byte counts so a fast transfer does not flood the client.
type reporter func(Progress)

func (r reporter) send(id, action string) {
	if r != nil {
		r(Progress{ID: id, Action: action})
	}
}

// progressStep is how many bytes pass between two byte-count reports.
const progressStep = 512 << 10

// countWriter reports the bytes written through it.
type countWriter struct {
	r      reporter
	id     string
	action string
	total  int64
	n      int64
	last   int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	if c.r != nil && (c.n-c.last >= progressStep || c.n == c.total) {
		c.last = c.n
		c.r(Progress{ID: c.id, Action: c.action, Current: c.n, Total: c.total})
	}
	return len(p), nil
}
