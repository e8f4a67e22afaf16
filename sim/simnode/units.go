package simnode

import (
	"fmt"
	"strings"
	"time"

	"github.com/kmemfix/kmemfix/node"
)

const (
	stateActive   = "active"
	stateInactive = "inactive"
	stateFailed   = "failed"
)

// unit is a systemd service.
type unit struct {
	name      string
	desc      string
	state     string
	enabled   bool
	failStart bool
	pid       int
	since     time.Time
}

// initUnits declares the node's units and starts the enabled ones (docker,
// then kubelet, then cadvisor), as systemd does at boot. On the first boot
// a kubelet configured Stopped stays inactive.
func (n *Node) initUnits() {
	first := n.units == nil
	old := n.units
	n.units = map[string]*unit{}
	add := func(name, desc string, enabled bool) {
		u := &unit{name: name, desc: desc, state: stateInactive, enabled: enabled}
		if o := old[name]; o != nil {
			u.enabled, u.failStart = o.enabled, o.failStart
		}
		n.units[name] = u
	}
	if !n.cfg.NoDocker {
		add("docker", "Docker Application Container Engine", true)
	}
	k := n.cfg.Kubelet
	add(k.Unit, "kubelet: The Kubernetes Node Agent", !k.Disabled)
	if first {
		n.units[k.Unit].failStart = k.FailStart
	}
	if !n.cfg.NoCadvisor {
		add("cadvisor", "cAdvisor container monitoring", true)
	}
	for _, name := range []string{"docker", k.Unit, "cadvisor"} {
		u := n.units[name]
		if u == nil || !u.enabled || (first && name == k.Unit && k.Stopped) {
			continue
		}
		_ = n.startUnit(u, !first) // a failed start leaves the unit failed
	}
}

// startUnit starts a unit; a kubelet reads its binary now. syncKubepods
// makes the kubelet set up kubepods and its pods at once (boot, systemctl
// start) rather than on its first Tick.
func (n *Node) startUnit(u *unit, syncKubepods bool) error {
	if u.state == stateActive {
		return nil
	}
	if u.name == n.cfg.Kubelet.Unit {
		if err := n.startKubelet(u, syncKubepods); err != nil {
			u.state = stateFailed
			u.since = n.now()
			n.logKubelet("kubelet failed to start: %v", err)
			return err
		}
	} else if u.failStart {
		u.state = stateFailed
		u.since = n.now()
		return fmt.Errorf("%s: start failed", u.name)
	}
	if u.pid == 0 || n.procs[u.pid] == nil {
		name := map[string]string{"docker": "dockerd", "cadvisor": "cadvisor"}[u.name]
		if name == "" {
			name = u.name
		}
		if p, e := n.spawn(n.root, ProcSpec{Name: name, Threads: 12, Anon: 48 << 20, File: 16 << 20}); e == 0 {
			u.pid = p.pid
		}
	}
	u.state = stateActive
	u.since = n.now()
	return nil
}

func (n *Node) stopUnit(u *unit) {
	if p := n.procs[u.pid]; p != nil {
		n.exit(p)
	}
	u.pid = 0
	if u.state != stateInactive {
		u.since = n.now()
	}
	u.state = stateInactive
}

// systemctl implements the verbs the procedure uses, with systemd 219's
// exit codes and messages.
func (n *Node) systemctl(args []string) node.Command {
	var verb string
	var names []string
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "-"):
		case verb == "":
			verb = a
		default:
			names = append(names, strings.TrimSuffix(a, ".service"))
		}
	}
	out := node.Command{}
	switch verb {
	case "daemon-reload":
		return out
	case "is-active", "is-failed", "is-enabled":
		return n.isQuery(verb, names)
	case "status":
		if len(names) == 0 {
			return node.Command{ExitCode: 3}
		}
		u := n.units[names[0]]
		if u == nil {
			return node.Command{ExitCode: 4, Stderr: fmt.Appendf(nil, "Unit %s.service could not be found.\n", names[0])}
		}
		return n.unitStatus(u)
	case "start", "stop", "restart", "try-restart", "enable", "disable":
	default:
		return node.Command{ExitCode: 1, Stderr: fmt.Appendf(nil, "Unknown operation '%s'.\n", verb)}
	}
	if len(names) == 0 {
		return node.Command{ExitCode: 1, Stderr: []byte("Too few arguments.\n")}
	}
	for _, name := range names {
		u := n.units[name]
		if u == nil {
			msg := "Failed to %s %s.service: Unit not found.\n"
			if verb == "stop" {
				msg = "Failed to %s %s.service: Unit %[2]s.service not loaded.\n"
			}
			return node.Command{ExitCode: 5, Stderr: fmt.Appendf(nil, msg, verb, name)}
		}
		switch verb {
		case "enable", "disable":
			u.enabled = verb == "enable"
			continue
		}
		n.mutate("systemctl "+verb, name)
		if verb != "start" {
			wasActive := u.state == stateActive
			n.stopUnit(u)
			if verb == "stop" || (verb == "try-restart" && !wasActive) {
				continue
			}
		}
		if err := n.startUnit(u, true); err != nil {
			return node.Command{ExitCode: 1, Stderr: fmt.Appendf(nil,
				"Job for %s.service failed because the control process exited with error code. See \"systemctl status %[1]s.service\" and \"journalctl -xe\" for details.\n", name)}
		}
		if name == "cadvisor" {
			n.cadvisorRestarts++
		}
	}
	return out
}

// isQuery is is-active, is-failed and is-enabled: one line per unit, exit
// 0 when at least one unit is in the asked state.
func (n *Node) isQuery(verb string, names []string) node.Command {
	if len(names) == 0 {
		return node.Command{ExitCode: 1, Stderr: []byte("Too few arguments.\n")}
	}
	var b strings.Builder
	code := 3
	if verb == "is-enabled" {
		code = 1
	}
	for _, name := range names {
		u := n.units[name]
		state := "unknown"
		switch {
		case verb == "is-enabled" && u == nil:
			return node.Command{ExitCode: 1, Stderr: fmt.Appendf(nil, "Failed to get unit file state for %s.service: No such file or directory\n", name)}
		case verb == "is-enabled" && u.enabled:
			state = "enabled"
		case verb == "is-enabled":
			state = "disabled"
		case u != nil:
			state = u.state
		}
		b.WriteString(state + "\n")
		if (verb == "is-active" && state == stateActive) || (verb == "is-failed" && state == stateFailed) || state == "enabled" {
			code = 0
		}
	}
	return node.Command{ExitCode: code, Stdout: []byte(b.String())}
}

func (n *Node) unitStatus(u *unit) node.Command {
	enabled := "disabled"
	if u.enabled {
		enabled = "enabled"
	}
	since := u.since.Format("Mon 2006-01-02 15:04:05 MST")
	active := "inactive (dead)"
	code := 3
	switch u.state {
	case stateActive:
		active, code = "active (running) since "+since, 0
	case stateFailed:
		active = "failed (Result: exit-code) since " + since
	}
	var b strings.Builder
	fmt.Fprintf(&b, "● %s.service - %s\n", u.name, u.desc)
	fmt.Fprintf(&b, "   Loaded: loaded (/usr/lib/systemd/system/%s.service; %s; vendor preset: disabled)\n", u.name, enabled)
	fmt.Fprintf(&b, "   Active: %s\n", active)
	if u.state == stateActive {
		name := u.name
		if p := n.procs[u.pid]; p != nil {
			name = p.name
		}
		fmt.Fprintf(&b, " Main PID: %d (%s)\n", u.pid, name)
	}
	return node.Command{ExitCode: code, Stdout: []byte(b.String())}
}

// ServiceState is a unit's state as `systemctl is-active` prints it.
func (n *Node) ServiceState(name string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if u := n.units[name]; u != nil {
		return u.state
	}
	return "unknown"
}

// SetFailStart makes starting a unit fail (true) or work again (false).
func (n *Node) SetFailStart(name string, fail bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if u := n.units[name]; u != nil {
		u.failStart = fail
	}
}

// SetEnabled enables or disables a unit (whether Reboot starts it).
func (n *Node) SetEnabled(name string, enabled bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if u := n.units[name]; u != nil {
		u.enabled = enabled
	}
}
