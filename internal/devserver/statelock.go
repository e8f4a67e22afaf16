package devserver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFile in the state dir is held (flock) while a server uses the dir:
// two servers on one SQLite file would fight over the same shard.
const lockFile = "lock"

// stateLock is a held lock on a state dir.
type stateLock struct{ f *os.File }

// lockState creates the state dir if needed and takes its lock, or says
// which process holds it. No dir (in memory) needs no lock: nil.
func lockState(dir string) (*stateLock, error) {
	if dir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("devserver: create state dir: %w", err)
	}
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("devserver: state lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		_ = f.Close() // the flock error is the one to report
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("devserver: state dir %s is in use by another dev server (pid %s): stop it or use another state dir", dir, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("devserver: state lock %s: %w", path, err)
	}
	// The pid is only a hint for the message above; the flock is the lock.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &stateLock{f: f}, nil
}

// release drops the lock (closing the file releases the flock).
func (l *stateLock) release() error {
	if l == nil {
		return nil
	}
	return l.f.Close()
}
