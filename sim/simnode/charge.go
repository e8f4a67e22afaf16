package simnode

// Memory charges. Every page is owned by one cgroup (its "local" charge);
// a cgroup's usage counter sees its own pages plus, when it has
// use_hierarchy=1, those of its whole subtree (children of a hierarchical
// cgroup are always hierarchical, so the subtree sums are exact).

// usage is what memory.usage_in_bytes reports (memsw usage is the same: no
// swap is modelled).
func (c *cgroup) usage() int64 {
	if c.useHierarchy {
		return c.subAnon + c.subFile
	}
	return c.anon + c.file
}

// inChain tells whether counter x sees charges made at c.
func inChain(x, c *cgroup) bool {
	for y := c; y != nil; y = y.hierParent() {
		if y == x {
			return true
		}
	}
	return false
}

// overLimit returns the first counter that charging delta bytes at c would
// push over its limit or memsw limit, ignoring counters that also see
// charges at from (a move between two cgroups does not change them). nil
// when it fits.
func overLimit(c *cgroup, delta int64, from *cgroup) *cgroup {
	if delta <= 0 {
		return nil
	}
	for x := c; x != nil; x = x.hierParent() {
		if from != nil && inChain(x, from) {
			return nil
		}
		u := x.usage() + delta
		if u > x.limit || u > x.memswLimit {
			return x
		}
	}
	return nil
}

// fail counts a refused charge of delta bytes on the counter that refused
// it (memory, memory+swap or both).
func fail(x *cgroup, delta int64) {
	u := x.usage() + delta
	if u > x.limit {
		x.failcnt++
	}
	if u > x.memswLimit {
		x.memswFailcnt++
	}
}

// addCharge changes the pages owned by c and the sums above it.
func addCharge(c *cgroup, dAnon, dFile int64) {
	if dAnon == 0 && dFile == 0 {
		return
	}
	c.anon += dAnon
	c.file += dFile
	for x := c; x != nil; x = x.parent {
		x.subAnon += dAnon
		x.subFile += dFile
	}
	if dAnon+dFile > 0 {
		for x := c; x != nil; x = x.hierParent() {
			if u := x.usage(); u > x.maxUsage {
				x.maxUsage = u
			}
		}
	}
}

// setAnonOwner moves a process's anon pages to another owner.
func setAnonOwner(p *proc, to *cgroup) {
	from := p.anonCg
	if from == to {
		return
	}
	addCharge(from, -p.anon, 0)
	addCharge(to, p.anon, 0)
	p.anonCg = to
	to.charged[p] = struct{}{}
	unref(p, from)
}

// setFileOwner moves a process's file pages to another owner.
func setFileOwner(p *proc, to *cgroup) {
	from := p.fileCg
	if from == to {
		return
	}
	addCharge(from, 0, -p.file)
	addCharge(to, 0, p.file)
	p.fileCg = to
	to.charged[p] = struct{}{}
	unref(p, from)
}

func unref(p *proc, c *cgroup) {
	if p.anonCg != c && p.fileCg != c {
		delete(c.charged, p)
	}
}

// reparent hands c's anon and/or file pages to its parent (rmdir, and
// force_empty for anon pages). Pages of c's subtree stay in the parent's
// subtree, so only local charges change.
func (n *Node) reparent(c *cgroup, anon, file bool) {
	parent := c.parent
	for p := range c.charged {
		if anon && p.anonCg == c {
			setAnonOwner(p, parent)
		}
		if file && p.fileCg == c {
			setFileOwner(p, parent)
		}
	}
}

// dropFile uncharges the file pages c owns (reclaimed page cache).
func (n *Node) dropFile(c *cgroup) {
	for p := range c.charged {
		if p.fileCg == c && p.file > 0 {
			addCharge(c, 0, -p.file)
			p.file = 0
		}
	}
}

// kmemUsage is a synthetic kernel-memory usage: accounted cgroups hold a
// little slab per task, unaccounted ones none. It is not part of usage.
func kmemUsage(c *cgroup) int64 {
	if !c.kmem {
		return 0
	}
	return 65536 + int64(len(c.tasks))*16384
}
