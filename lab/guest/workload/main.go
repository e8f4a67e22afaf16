// Command workload is the container process of the lab's guest: one static
// binary with a mode per kind of container (a memory hog, a page-cache
// reader, a tmpfs writer, a multi-threaded process, a process that forks
// continuously). Every mode can wait for "go" on stdin before it touches
// memory, so the runner can put it in its cgroup first and the charge lands
// there. Once its memory is touched it prints "ready" and then runs until
// killed.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: workload hold|threads|forker|file [flags]")
		os.Exit(2)
	}
	mode, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	waitGo := fs.Bool("wait-go", false, "wait for a line on stdin before touching memory")
	mib := fs.Int("mib", 0, "MiB of anonymous memory (hold, threads) or of file (file)")
	threads := fs.Int("threads", 8, "threads (threads mode)")
	every := fs.Duration("every", 50*time.Millisecond, "fork interval (forker mode)")
	file := fs.String("path", "", "file to write or read (file mode)")
	create := fs.Bool("create", false, "create the file (file mode); otherwise read it")
	if err := fs.Parse(args); err != nil {
		os.Exit(2)
	}
	if *waitGo {
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil && err != io.EOF {
			fail(err)
		}
	}
	var err error
	switch mode {
	case "hold":
		err = hold(*mib)
	case "threads":
		err = manyThreads(*threads, *mib)
	case "forker":
		err = forker(*every)
	case "file":
		err = touchFile(*file, *mib, *create)
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "workload:", err)
	os.Exit(1)
}

// ready tells the runner the memory is charged, then blocks forever.
func ready() {
	fmt.Println("ready")
	os.Stdout.Close()
	for {
		time.Sleep(time.Hour) // a timer, so the runtime never sees a deadlock
	}
}

// hold touches mib MiB of anonymous memory and keeps it.
func hold(mib int) error {
	mem, err := anon(mib)
	if err != nil {
		return err
	}
	defer runtime.KeepAlive(mem)
	ready()
	return nil
}

func anon(mib int) ([]byte, error) {
	if mib <= 0 {
		return nil, nil
	}
	mem, err := syscall.Mmap(-1, 0, mib<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, fmt.Errorf("mmap %d MiB: %w", mib, err)
	}
	for i := 0; i < len(mem); i += 4096 {
		mem[i] = byte(i)
	}
	return mem, nil
}

// manyThreads runs n OS threads (each a goroutine locked to its thread),
// sharing mib MiB of anonymous memory.
func manyThreads(n, mib int) error {
	mem, err := anon(mib)
	if err != nil {
		return err
	}
	defer runtime.KeepAlive(mem)
	started := make(chan struct{})
	for i := 0; i < n; i++ {
		go func() {
			runtime.LockOSThread()
			started <- struct{}{}
			for {
				time.Sleep(time.Hour)
			}
		}()
	}
	for i := 0; i < n; i++ {
		<-started
	}
	ready()
	return nil
}

// forker starts a short-lived child every interval, for ever: a process
// forking while it is being moved between cgroups.
func forker(every time.Duration) error {
	go func() {
		for {
			cmd := exec.Command("/bin/sleep", "0.2") //nolint:noctx // forks for ever by design; the VM ends it
			if err := cmd.Start(); err == nil {
				go func() { _ = cmd.Wait() }()
			}
			time.Sleep(every)
		}
	}()
	ready()
	return nil
}

// touchFile creates a file of mib MiB (charging its pages to this
// process's cgroup) or reads one (charging the page cache it brings in),
// then keeps reading it so the pages stay hot.
func touchFile(path string, mib int, create bool) error {
	if create {
		buf := make([]byte, 1<<20)
		for i := range buf {
			buf[i] = byte(i * 7)
		}
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("create %s: %w", path, err)
		}
		for i := 0; i < mib; i++ {
			if _, err := f.Write(buf); err != nil {
				f.Close()
				return fmt.Errorf("write %s: %w", path, err)
			}
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("close %s: %w", path, err)
		}
	}
	if err := readAll(path); err != nil {
		return err
	}
	go func() {
		for {
			time.Sleep(5 * time.Second)
			_ = readAll(path)
		}
	}()
	ready()
	return nil
}

func readAll(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	if _, err := io.Copy(io.Discard, f); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}
