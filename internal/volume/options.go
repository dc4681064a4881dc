package volume

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/gorae/gorae/internal/errdefs"
)

// The local driver's options, as Docker's: type, o and device mount a
// filesystem on the volume's directory; size needs quotas we do not have.
var (
	validOptions     = map[string]bool{"type": true, "o": true, "device": true, "size": true}
	mandatoryOptions = map[string][]string{"device": {"type"}, "type": {"device"}, "o": {"device", "type"}}
)

// ValidateOptions checks the local driver's options as Docker does.
func ValidateOptions(opts map[string]string) error {
	for k := range opts {
		if !validOptions[k] {
			return errdefs.InvalidParameter(fmt.Errorf("invalid option: %q (the local driver knows type, o, device)", k))
		}
	}
	if _, ok := opts["size"]; ok {
		return errdefs.InvalidParameter(errors.New("quota size requested but no quota support"))
	}
	for k, need := range mandatoryOptions {
		if _, ok := opts[k]; !ok {
			continue
		}
		for _, n := range need {
			if _, ok := opts[n]; !ok {
				return errdefs.InvalidParameter(fmt.Errorf("missing required option: %q", n))
			}
		}
	}
	if !hasMountOptions(opts) {
		return nil
	}
	if _, _, err := mountFlags(opts["o"]); err != nil {
		return errdefs.InvalidParameter(fmt.Errorf("invalid option o=%q: %w", opts["o"], err))
	}
	// A bind of a missing host path would fail only at first use;
	// say so now.
	if isBind(opts["o"]) {
		if _, err := os.Stat(opts["device"]); err != nil {
			return errdefs.InvalidParameter(fmt.Errorf("invalid option device=%q: bind source path does not exist", opts["device"]))
		}
	}
	return nil
}

func hasMountOptions(opts map[string]string) bool {
	return opts["type"] != "" || opts["device"] != ""
}

func isBind(o string) bool {
	for _, w := range strings.Split(o, ",") {
		if w == "bind" || w == "rbind" {
			return true
		}
	}
	return false
}

// mounter is the kernel side of the driver's options, behind an
// interface so the store's logic is testable without root.
type mounter interface {
	mount(opts map[string]string, target string) error
	unmount(target string) error
	mounted(target string) (bool, error)
}
