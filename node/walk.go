package node

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
)

// walk lists every cgroup of a tree as rel paths, parents before children
// (pre-order), reading the node's real state. A missing tree has no dirs.
func walk(sys System, t tree) ([]string, error) {
	if _, err := sys.Stat(t.root); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("stat %s: %w", t.root, err)
	}
	rels := []string{""}
	for i := 0; i < len(rels); i++ {
		children, err := childCgroups(sys, t, rels[i])
		if err != nil {
			return nil, err
		}
		rels = append(rels, children...)
	}
	sortParentsFirst(rels)
	return rels, nil
}

func childCgroups(sys System, t tree, rel string) ([]string, error) {
	dir, err := t.dir(rel)
	if err != nil {
		return nil, err
	}
	entries, err := sys.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // removed while we looked
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if err := checkName(e.Name()); err != nil {
			return nil, needsHelp("cgroup under %s has a name kmemfix cannot handle safely: %v; remove or rename it by hand", dir, err)
		}
		if rel == "" {
			out = append(out, e.Name())
		} else {
			out = append(out, rel+"/"+e.Name())
		}
	}
	return out, nil
}

// sortParentsFirst orders rels by depth, then name: every parent comes
// before its children, and the order is the same on every run.
func sortParentsFirst(rels []string) {
	sort.SliceStable(rels, func(i, j int) bool {
		di, dj := depth(rels[i]), depth(rels[j])
		if di != dj {
			return di < dj
		}
		return rels[i] < rels[j]
	})
}

// leavesFirst returns rels in the reverse of parents-first order.
func leavesFirst(rels []string) []string {
	out := make([]string, len(rels))
	for i, r := range rels {
		out[len(rels)-1-i] = r
	}
	return out
}
