package devserver

import (
	"context"
	"fmt"
	"net"
	"strconv"
)

// freePorts returns n distinct TCP ports that were free on host a moment
// ago (all held open together, so none repeats). The Temporal server needs
// port numbers up front (they go into its config), so a small race with
// other processes remains: startServices retries with new ports.
func freePorts(ctx context.Context, host string, n int) ([]int, error) {
	ports := make([]int, 0, n)
	var lc net.ListenConfig
	for range n {
		l, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("devserver: find a free port on %s: %w", host, err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// holdPort listens on addr, or fails with a message that says what to do:
// it turns a later, obscure bind failure inside the server into a clear one.
func holdPort(ctx context.Context, addr, what string) (net.Listener, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("devserver: %s address %s is not available (another Temporal dev server running?); stop it or choose another address: %w", what, addr, err)
	}
	return l, nil
}

// checkFree fails like holdPort when something already listens on addr.
func checkFree(ctx context.Context, addr, what string) error {
	l, err := holdPort(ctx, addr, what)
	if err != nil {
		return err
	}
	return l.Close()
}

func portOf(addr string) int {
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return p
}

func hostOf(addr string) string {
	host, _, _ := net.SplitHostPort(addr)
	return host
}
