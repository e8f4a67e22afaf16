package node

import (
	"fmt"
	"path"
	"strings"
)

// Config names the places the procedure works on. Real fleets differ, so
// every name is configurable; the defaults match the seed procedure.
type Config struct {
	CgroupRoot  string // the cgroup v1 memory hierarchy's mount point
	Kubepods    string // kubelet's top cgroup, relative to CgroupRoot
	Mirror      string // the temporary mirror tree, relative to CgroupRoot
	JournalDir  string // where the snapshot journal and the lock live
	KubeletUnit string // the kubelet's systemd unit
}

// DefaultConfig returns the seed's layout.
func DefaultConfig() Config {
	return Config{
		CgroupRoot:  "/sys/fs/cgroup/memory",
		Kubepods:    "kubepods",
		Mirror:      "kubepods2",
		JournalDir:  "/var/lib/kmemfix",
		KubeletUnit: "kubelet",
	}
}

// Validate rejects names that would let the procedure leave its tree.
func (c Config) Validate() error {
	var problems []string
	if !path.IsAbs(c.CgroupRoot) || path.Clean(c.CgroupRoot) != c.CgroupRoot || c.CgroupRoot == "/" {
		problems = append(problems, fmt.Sprintf("cgroup root %q must be a clean absolute path below /", c.CgroupRoot))
	}
	if !path.IsAbs(c.JournalDir) || path.Clean(c.JournalDir) != c.JournalDir {
		problems = append(problems, fmt.Sprintf("journal dir %q must be a clean absolute path", c.JournalDir))
	}
	for _, n := range []struct{ flag, name string }{{"kubepods", c.Kubepods}, {"mirror", c.Mirror}} {
		if err := checkName(n.name); err != nil {
			problems = append(problems, fmt.Sprintf("--%s: %v", n.flag, err))
		}
	}
	if c.Kubepods == c.Mirror {
		problems = append(problems, fmt.Sprintf("--mirror %q must differ from --kubepods", c.Mirror))
	}
	if c.KubeletUnit == "" || strings.ContainsAny(c.KubeletUnit, "/\x00\n") {
		problems = append(problems, fmt.Sprintf("kubelet unit %q is not a unit name", c.KubeletUnit))
	}
	if len(problems) > 0 {
		return fmt.Errorf("node config: %s", strings.Join(problems, "; "))
	}
	return nil
}

// checkName accepts one path element: no separators, not . or .., no NUL
// or newline. Everything else (spaces, ;, $(...)) is plain data to us.
func checkName(name string) error {
	switch {
	case name == "", name == ".", name == "..":
		return fmt.Errorf("%q is not a cgroup name", name)
	case strings.ContainsAny(name, "/\x00\n"):
		return fmt.Errorf("%q contains a separator, NUL or newline", name)
	}
	return nil
}

// tree is one cgroup tree (kubepods or its mirror) under the cgroup root.
// Rel paths are slash-separated and relative to the tree's top; "" is the
// top itself.
type tree struct {
	root string // absolute path of the tree's top cgroup
	name string // its name under the cgroup root
}

func (c Config) kubepods() tree {
	return tree{root: path.Join(c.CgroupRoot, c.Kubepods), name: c.Kubepods}
}
func (c Config) mirror() tree { return tree{root: path.Join(c.CgroupRoot, c.Mirror), name: c.Mirror} }

// dir is the absolute path of rel in the tree. rel comes from our own walk
// or from the journal; joinRel re-checks every element so a tampered journal
// cannot point outside the tree.
func (t tree) dir(rel string) (string, error) {
	if rel == "" {
		return t.root, nil
	}
	for _, el := range strings.Split(rel, "/") {
		if err := checkName(el); err != nil {
			return "", fmt.Errorf("cgroup path %q under %s: %w", rel, t.root, err)
		}
	}
	return t.root + "/" + rel, nil
}

// file is the absolute path of a control file of rel.
func (t tree) file(rel, name string) (string, error) {
	d, err := t.dir(rel)
	if err != nil {
		return "", err
	}
	return d + "/" + name, nil
}

// cgroupPath is rel as /proc/PID/cgroup shows it: relative to the hierarchy.
func (t tree) cgroupPath(rel string) string {
	if rel == "" {
		return "/" + t.name
	}
	return "/" + t.name + "/" + rel
}

// depth orders rels: parents have smaller depth than their children.
func depth(rel string) int {
	if rel == "" {
		return 0
	}
	return strings.Count(rel, "/") + 1
}
