package main

import (
	"github.com/spf13/pflag"

	"github.com/gorae/gorae/internal/daemon"
	"github.com/gorae/gorae/internal/network"
)

// networkFlags are the daemon's networking flags; daemon.json has the
// same keys (bridge, bip, default-address-pools, mtu, bridge-prefix).
type networkFlags struct {
	pools []string
}

func (f *networkFlags) add(fl *pflag.FlagSet, cfg *daemon.Config) {
	fl.StringVar(&cfg.Bridge, "bridge", "", "name of the default network's bridge (default gorae0)")
	fl.StringVar(&cfg.BIP, "bip", "", "the default bridge's address and subnet, as 10.1.0.1/24")
	fl.StringArrayVar(&f.pools, "default-address-pool", nil, "subnets for networks created without one: base=CIDR,size=N (repeatable)")
	fl.IntVar(&cfg.MTU, "mtu", 0, "MTU of bridges and container interfaces (0: the kernel's default)")
	fl.StringVar(&cfg.BridgePrefix, "bridge-prefix", "", "prefix of user networks' bridge names (default br-)")
}

// merge applies daemon.json's values where no flag was given.
func (f *networkFlags) merge(fl *pflag.FlagSet, cfg *daemon.Config, file daemon.Config) error {
	fromFile(fl, "bridge", &cfg.Bridge, file.Bridge)
	fromFile(fl, "bip", &cfg.BIP, file.BIP)
	fromFile(fl, "mtu", &cfg.MTU, file.MTU)
	fromFile(fl, "bridge-prefix", &cfg.BridgePrefix, file.BridgePrefix)
	cfg.DefaultAddressPools = file.DefaultAddressPools
	if len(f.pools) > 0 {
		cfg.DefaultAddressPools = nil
		for _, s := range f.pools {
			p, err := network.ParsePool(s)
			if err != nil {
				return err
			}
			cfg.DefaultAddressPools = append(cfg.DefaultAddressPools, p)
		}
	}
	return nil
}
