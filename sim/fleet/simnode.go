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
	machine, err := unameMachine(spec.Arch)
	if err != nil {
		return nil, err
	}
	if version[0] != 'v' {
		version = "v" + version
	}
	cfg := simnode.Config{
		Kernel: "3.10.0-1160.el7." + machine,
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

// layouts maps the knob's words to simnode's layouts.
var layouts = map[string]simnode.Layout{"": simnode.LayoutBoth, "mixed": simnode.LayoutBoth, "qos": simnode.LayoutQoS, "direct": simnode.LayoutDirect}

// populate adds the spec's pods the way a kubelet left them, after the
// leaked ids; an exhausted node then loses every free id.
func populate(n *simnode.Node, spec NodeSpec) error {
	layout, ok := layouts[spec.Layout]
	if !ok {
		return fmt.Errorf("layout %q: want qos, direct or mixed", spec.Layout)
	}
	if err := n.AddPods(simnode.PodsSpec{Containers: spec.Containers, Layout: layout, LeakIDs: spec.LeakedIDs}); err != nil {
		return err
	}
	if spec.Exhausted {
		return n.LeakIDs(n.FreeIDs())
	}
	return nil
}
