package fleet

import (
	"fmt"

	"github.com/kmemfix/kmemfix/sim/simnode"
)

// newSimNode builds a node's simulated kernel from its spec.
func newSimNode(spec NodeSpec, seed int64) (*simnode.Node, error) {
	version := spec.KubeletVersion
	if version == "" {
		version = "1.12.3"
	}
	_, buggy, err := kubeletMinor(version)
	if err != nil {
		return nil, err
	}
	if version[0] != 'v' {
		version = "v" + version
	}
	cfg := simnode.Config{
		Kernel: "3.10.0-1160.119.1.el7." + map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[spec.Arch],
		Stap:   true,
		Seed:   seed,
		Kubelet: simnode.KubeletConfig{
			Version:   version,
			Buggy:     buggy,
			FailStart: spec.Faults.KubeletFailsStart,
		},
	}
	n := simnode.New(cfg)
	if err := populate(n, spec); err != nil {
		return nil, fmt.Errorf("populate: %w", err)
	}
	return n, nil
}

// populate adds the spec's pods and leaks.
func populate(n *simnode.Node, spec NodeSpec) error {
	return nil // TODO(fleet): wire simnode's pod population once it lands
}
