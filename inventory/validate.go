package inventory

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
)

// position is where a node's fields were written, for problems.
type position struct {
	entry   int // line of the entry itself
	name    int
	address int
	port    int
	user    int
	arch    int
	labels  int
}

func (p position) at(field int) int {
	if field > 0 {
		return field
	}
	return p.entry
}

// maxNameLen keeps a node name, and the workflow ID built from it, well
// inside Temporal's ID limits and readable in the UI.
const maxNameLen = 200

// validate checks every node against the rules and each other.
func validate(inv *Inventory, dpos position, pos []position) []Problem {
	var ps []Problem
	add := func(line int, entry, msg, fix string) {
		ps = append(ps, Problem{Line: line, Entry: entry, Message: msg, Fix: fix})
	}
	if inv.Defaults.Port != 0 && !validPort(inv.Defaults.Port) {
		add(dpos.port, "", fmt.Sprintf("defaults: port %d is out of range", inv.Defaults.Port), "use a port from 1 to 65535")
	}
	if u := inv.Defaults.User; u != "" && !validUser(u) {
		add(dpos.user, "", fmt.Sprintf("defaults: user %q is not a valid login name", u), "use letters, digits, _ and - (starting with a letter or _)")
	}
	if len(inv.Nodes) == 0 {
		add(0, "", "no nodes", "list at least one node")
	}
	names := map[string]int{}
	endpoints := map[string]int{}
	for i, n := range inv.Resolved() {
		p := pos[i]
		entry := entryName(inv.Nodes[i].Name, i)
		if msg, fix := checkName(n.Name); msg != "" {
			add(p.at(p.name), entry, msg, fix)
		} else if first, dup := names[n.Name]; dup {
			add(p.at(p.name), entry, fmt.Sprintf("duplicate name (first at line %d)", first), "give each node a unique name")
		} else {
			names[n.Name] = p.at(p.name)
		}
		addrOK := true
		if msg, fix := checkAddress(n.Address); msg != "" {
			add(p.at(p.address), entry, msg, fix)
			addrOK = false
		}
		raw := inv.Nodes[i]
		if !validPort(n.Port) {
			if raw.Port != 0 { // else the defaults' port, reported once above
				add(p.at(p.port), entry, fmt.Sprintf("port %d is out of range", n.Port), "use a port from 1 to 65535")
			}
		} else if addrOK {
			ep := endpoint(n.Address, n.Port)
			if first, dup := endpoints[ep]; dup {
				add(p.at(p.address), entry, fmt.Sprintf("duplicate address %s (first at line %d)", ep, first), "each node needs its own address:port; remove the duplicate or fix its address")
			} else {
				endpoints[ep] = p.at(p.address)
			}
		}
		if raw.User != "" && !validUser(raw.User) {
			add(p.at(p.user), entry, fmt.Sprintf("user %q is not a valid login name", raw.User), "use letters, digits, _ and - (starting with a letter or _)")
		}
		if n.Arch != "" && n.Arch != "amd64" && n.Arch != "arm64" {
			add(p.at(p.arch), entry, fmt.Sprintf("arch %q is not supported", n.Arch), "use amd64 or arm64, or leave it out to detect it with uname -m")
		}
		for k := range n.Labels {
			if k == "" || strings.ContainsFunc(k, unicode.IsControl) {
				add(p.at(p.labels), entry, fmt.Sprintf("label key %q is empty or has control characters", k), "use a plain key such as zone or rack")
			}
		}
	}
	return ps
}

func entryName(name string, i int) string {
	if name == "" || strings.ContainsFunc(name, unicode.IsControl) {
		return fmt.Sprintf("#%d", i+1)
	}
	return strconv.Quote(name)
}

// checkName refuses names that cannot become a Temporal workflow ID as is:
// kmemfix derives each node's workflow ID from its name, and a name with
// spaces, slashes or control characters would be mangled or rejected there
// (and in logs and the UI).
func checkName(name string) (msg, fix string) {
	switch {
	case name == "":
		return "name is empty", "give every node a name (its host name is a good one)"
	case strings.ContainsFunc(name, unicode.IsControl):
		return fmt.Sprintf("name %q contains control characters", name), "remove them (tabs, newlines, escapes)"
	case len(name) > maxNameLen:
		return fmt.Sprintf("name is %d bytes long", len(name)), fmt.Sprintf("shorten it to %d bytes at most", maxNameLen)
	}
	for i, r := range name {
		ok := r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || (i > 0 && strings.ContainsRune("._-", r)))
		if !ok {
			return fmt.Sprintf("name %q is not safe as a workflow ID (%q at byte %d)", name, r, i), "use letters, digits, '.', '_' and '-', starting with a letter or digit"
		}
	}
	return "", ""
}

func checkAddress(addr string) (msg, fix string) {
	if addr == "" {
		return "address is empty", "give the node's IP address or host name"
	}
	if _, err := netip.ParseAddr(addr); err == nil {
		return "", ""
	}
	if validHostname(addr) {
		return "", ""
	}
	return fmt.Sprintf("address %q is neither an IP address nor a host name", addr), "write an IPv4/IPv6 address or a DNS name, without port or scheme (the port goes in port)"
}

// validHostname follows RFC 1123: dot-separated labels of letters, digits
// and inner hyphens, 63 bytes a label, 253 in all; not all digits.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	allDigits := true
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			switch {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '-':
				allDigits = false
			case '0' <= c && c <= '9':
			default:
				return false
			}
		}
	}
	return !allDigits
}

func validPort(p int) bool { return p >= 1 && p <= 65535 }

func validUser(u string) bool {
	if u == "" || len(u) > 32 {
		return false
	}
	for i, c := range []byte(u) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		case i > 0 && ('0' <= c && c <= '9' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

func endpoint(addr string, port int) string {
	if a, err := netip.ParseAddr(addr); err == nil {
		addr = a.Unmap().String()
	} else {
		addr = strings.ToLower(strings.TrimSuffix(addr, "."))
	}
	return net.JoinHostPort(addr, strconv.Itoa(port))
}
