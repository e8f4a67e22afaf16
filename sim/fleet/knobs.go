package fleet

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
)

// Knobs is the spec-string syntax of a node's settings, for the command
// line: a comma-separated list of knobs, each a name or name=value (name:value
// works too):
//
//	containers=N          containers under kubepods
//	layout=qos|direct|mixed
//	leaked=N              css ids already leaked
//	exhausted             css ids used up: the node needs a reboot
//	kubelet=VERSION       e.g. 1.12.3 (1.8-1.13 turn kmem on) or 1.14.10
//	arch=amd64|arm64
//	churn=DURATION        the running kubelet replaces a pod every DURATION
//	latency=DURATION      before every exec (e.g. 20ms)
//	handshake-latency=DURATION
//	unreachable           port closed: dial refused
//	handshake-hang        accepts TCP, never speaks
//	auth-refusal          refuses every key
//	changed-host-key      presents a key other than known_hosts'
//	drop-exec[=N]         cut the connection after the Nth exec ran (default 1)
//	kubelet-fails-start   starting kubelet fails
//	enospc-mkdir[=N]      the Nth cgroup mkdir fails with ENOSPC (default 1)
//	reboot-after-exec=N   reboot right after the Nth helper exec
const Knobs = "containers, layout, leaked, exhausted, kubelet, arch, churn, latency, handshake-latency, unreachable, handshake-hang, auth-refusal, changed-host-key, drop-exec, kubelet-fails-start, enospc-mkdir, reboot-after-exec"

// ParseKnobs parses a knob list (see Knobs) into a function that applies it.
func ParseKnobs(s string) (func(*NodeSpec), error) {
	var sets []func(*NodeSpec)
	for _, knob := range strings.Split(s, ",") {
		knob = strings.TrimSpace(knob)
		if knob == "" {
			continue
		}
		name, value, hasValue := strings.Cut(knob, "=")
		if !hasValue {
			name, value, hasValue = strings.Cut(knob, ":")
		}
		set, err := parseKnob(name, value, hasValue)
		if err != nil {
			return nil, fmt.Errorf("fleet: knob %q: %w", knob, err)
		}
		sets = append(sets, set)
	}
	return func(n *NodeSpec) {
		for _, set := range sets {
			set(n)
		}
	}, nil
}

// ParseOverride parses NODES=KNOBS, as in --fault node-007=unreachable.
// NODES is a node name, a path.Match pattern (node-00*) or a percentage
// (5%) spread evenly over the fleet.
func ParseOverride(s string) (Override, error) {
	nodes, knobs, ok := strings.Cut(s, "=")
	if !ok || nodes == "" || knobs == "" {
		return Override{}, fmt.Errorf("fleet: override %q: want NODES=KNOBS, e.g. node-007=unreachable or 5%%=kubelet-fails-start", s)
	}
	if pct, isPct := strings.CutSuffix(nodes, "%"); isPct {
		if p, err := strconv.ParseFloat(pct, 64); err != nil || p < 0 || p > 100 {
			return Override{}, fmt.Errorf("fleet: override %q: %q is not a percentage from 0 to 100", s, nodes)
		}
	} else if _, err := path.Match(nodes, ""); err != nil {
		return Override{}, fmt.Errorf("fleet: override %q: node pattern %q: %w", s, nodes, err)
	}
	set, err := ParseKnobs(knobs)
	if err != nil {
		return Override{}, err
	}
	return Override{Nodes: nodes, Set: set}, nil
}

func parseKnob(name, value string, hasValue bool) (func(*NodeSpec), error) {
	flag := func(set func(*NodeSpec)) (func(*NodeSpec), error) {
		if hasValue {
			return nil, fmt.Errorf("takes no value")
		}
		return set, nil
	}
	count := func(def int, set func(*NodeSpec, int)) (func(*NodeSpec), error) {
		n := def
		if hasValue || def < 0 {
			v, err := strconv.Atoi(value)
			if err != nil || v < 0 {
				return nil, fmt.Errorf("want a count, got %q", value)
			}
			n = v
		}
		return func(s *NodeSpec) { set(s, n) }, nil
	}
	duration := func(set func(*NodeSpec, time.Duration)) (func(*NodeSpec), error) {
		d, err := time.ParseDuration(value)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("want a duration such as 20ms, got %q", value)
		}
		return func(s *NodeSpec) { set(s, d) }, nil
	}
	switch name {
	case "containers":
		return count(-1, func(s *NodeSpec, n int) { s.Containers = n })
	case "leaked":
		return count(-1, func(s *NodeSpec, n int) { s.LeakedIDs = n })
	case "layout":
		if value != "qos" && value != "direct" && value != "mixed" {
			return nil, fmt.Errorf("want qos, direct or mixed, got %q", value)
		}
		return func(s *NodeSpec) { s.Layout = value }, nil
	case "kubelet":
		if _, _, err := kubeletMinor(value); err != nil {
			return nil, err
		}
		return func(s *NodeSpec) { s.KubeletVersion = value }, nil
	case "arch":
		if _, err := unameMachine(value); err != nil {
			return nil, err
		}
		return func(s *NodeSpec) { s.Arch = value }, nil
	case "latency":
		return duration(func(s *NodeSpec, d time.Duration) { s.ExecLatency = d })
	case "churn":
		return duration(func(s *NodeSpec, d time.Duration) { s.ChurnEvery = d })
	case "handshake-latency":
		return duration(func(s *NodeSpec, d time.Duration) { s.HandshakeLatency = d })
	case "exhausted":
		return flag(func(s *NodeSpec) { s.Exhausted = true })
	case "unreachable":
		return flag(func(s *NodeSpec) { s.Faults.Unreachable = true })
	case "handshake-hang":
		return flag(func(s *NodeSpec) { s.Faults.HandshakeHang = true })
	case "auth-refusal":
		return flag(func(s *NodeSpec) { s.Faults.AuthRefusal = true })
	case "changed-host-key":
		return flag(func(s *NodeSpec) { s.Faults.ChangedHostKey = true })
	case "kubelet-fails-start":
		return flag(func(s *NodeSpec) { s.Faults.KubeletFailsStart = true })
	case "drop-exec":
		return count(1, func(s *NodeSpec, n int) { s.Faults.DropExec = n })
	case "enospc-mkdir":
		return count(1, func(s *NodeSpec, n int) { s.Faults.MkdirENOSPC = n })
	case "reboot-after-exec":
		return count(-1, func(s *NodeSpec, n int) { s.Faults.RebootAfterExec = n })
	}
	return nil, fmt.Errorf("unknown knob; known: %s", Knobs)
}

// kubeletMinor parses a kubelet version (1.12.3, v1.12.3) and reports
// whether it is one of those that turn kmem accounting on (1.8-1.13).
func kubeletMinor(v string) (minor int, buggy bool, err error) {
	parts := strings.Split(strings.TrimPrefix(v, "v"), ".")
	if len(parts) < 2 || parts[0] != "1" {
		return 0, false, fmt.Errorf("want a kubelet version such as 1.12.3, got %q", v)
	}
	minor, err = strconv.Atoi(parts[1])
	if err != nil {
		return 0, false, fmt.Errorf("want a kubelet version such as 1.12.3, got %q", v)
	}
	return minor, minor >= 8 && minor <= 13, nil
}
