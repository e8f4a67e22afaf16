package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// workloadBin is the workload program in the guest.
const workloadBin = "/lab/bin/workload"

// procs starts and ends the guest's container processes. Each carries the
// env LABCTR=<relative container path>, inherited by what it forks, so the
// checks can tell where every process belongs.
type procs struct {
	mu   sync.Mutex
	cmds map[int]*exec.Cmd
}

func newProcs() *procs { return &procs{cmds: map[int]*exec.Cmd{}} }

// start runs argv with LABCTR=ctr, puts it in cgroup dir (absolute), lets it
// touch its memory if it waits for "go", and returns once it is ready.
func (p *procs) start(dir, ctr string, argv []string, waitsGo bool) (int, error) {
	cmd := exec.Command(argv[0], argv[1:]...) //nolint:noctx // a container process: it lives until p.kill, not a context
	cmd.Env = []string{"PATH=/bin:/sbin:/usr/bin", "LABCTR=" + ctr, "GOMAXPROCS=1", "GOGC=400"}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	var stdout *bufio.Reader
	if waitsGo {
		out, err := cmd.StdoutPipe()
		if err != nil {
			return 0, err
		}
		stdout = bufio.NewReader(out)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %v: %w", argv, err)
	}
	pid := cmd.Process.Pid
	p.mu.Lock()
	p.cmds[pid] = cmd
	p.mu.Unlock()
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		_ = p.kill(pid)
		return 0, fmt.Errorf("move %d into %s: %w", pid, dir, err)
	}
	if waitsGo {
		if _, err := stdin.Write([]byte("go\n")); err != nil {
			return 0, fmt.Errorf("tell %d to go: %w", pid, err)
		}
		line, err := stdout.ReadString('\n')
		if strings.TrimSpace(line) != "ready" {
			_ = p.kill(pid)
			return 0, fmt.Errorf("%v did not get ready: %q %w", argv, line, err)
		}
	}
	_ = stdin.Close()
	return pid, nil
}

// kill ends a started process with SIGKILL and reaps it.
func (p *procs) kill(pid int) error {
	p.mu.Lock()
	cmd, ok := p.cmds[pid]
	delete(p.cmds, pid)
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("pid %d was not started by the runner", pid)
	}
	if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	_ = cmd.Wait()
	return nil
}

// osKernel is probe.Kernel on the guest's real kernel.
type osKernel struct{ procs *procs }

func (k osKernel) Mkdir(path string) error                  { return os.Mkdir(path, 0o755) }
func (k osKernel) Remove(path string) error                 { return syscall.Rmdir(path) }
func (k osKernel) ReadFile(path string) ([]byte, error)     { return os.ReadFile(path) }
func (k osKernel) WriteFile(path string, data []byte) error { return writeControl(path, data) }

func (k osKernel) Spawn(dir string, anonBytes int64) (int, error) {
	mib := strconv.FormatInt((anonBytes+(1<<20)-1)>>20, 10)
	return k.procs.start(dir, "probe", []string{workloadBin, "hold", "--wait-go", "--mib", mib}, true)
}

func (k osKernel) Kill(pid int) error { return k.procs.kill(pid) }

// writeControl writes a cgroup control file with one write(2) and no
// create, as node.System.WriteFile does.
func writeControl(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr != nil {
		return werr
	}
	return cerr
}
