package helper

import (
	"context"
	"io"
	"io/fs"
	"slices"

	"github.com/kmemfix/kmemfix/node"
)

// Crash is the panic value of a helper killed by --crash-after-ops. The
// binary's main turns it into exit code 137, as SIGKILL would; nothing after
// the crash point runs, so the node is left exactly as a killed process
// leaves it.
type Crash struct{ Ops int }

// crashingSystem dies right before the (N+1)th mutating operation. It is the
// kernel lab's way to interrupt a step at a chosen instant on a real kernel.
type crashingSystem struct {
	node.System
	left int
	done int
}

func (c *crashingSystem) mutate() {
	if c.left == 0 {
		panic(Crash{Ops: c.done})
	}
	c.left--
	c.done++
}

func (c *crashingSystem) WriteFile(path string, data []byte) error {
	c.mutate()
	return c.System.WriteFile(path, data)
}

func (c *crashingSystem) Mkdir(path string) error {
	c.mutate()
	return c.System.Mkdir(path)
}

func (c *crashingSystem) Remove(path string) error {
	c.mutate()
	return c.System.Remove(path)
}

func (c *crashingSystem) Rename(oldPath, newPath string) error {
	c.mutate()
	return c.System.Rename(oldPath, newPath)
}

func (c *crashingSystem) WriteFileAtomic(path string, r io.Reader, perm fs.FileMode) error {
	c.mutate()
	return c.System.WriteFileAtomic(path, r, perm)
}

// Run counts service changes as mutations; reads (is-active) are not.
func (c *crashingSystem) Run(ctx context.Context, argv []string) (node.Command, error) {
	if len(argv) >= 2 && argv[0] == "systemctl" && slices.Contains([]string{"stop", "start", "restart"}, argv[1]) {
		c.mutate()
	}
	return c.System.Run(ctx, argv)
}
