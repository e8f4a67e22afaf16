package devserver

import (
	"fmt"
	"net"
	"strconv"
)

// resolvePort returns addr with a concrete port: port 0 is replaced by a
// port that was free a moment ago on the same host. The Temporal server needs
// numbers up front (they go into its cluster metadata), so a small race with
// other processes remains; Start reports a bind failure clearly.
func resolvePort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if port != "0" {
		return addr, nil
	}
	p, err := freePort(host)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), nil
}

// freePort asks the kernel for a free TCP port on host.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("devserver: find a free port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// checkFree fails when something already listens on addr, with a message
// that says what to do. It turns a later, obscure bind error inside the
// server into a clear one.
func checkFree(addr, what string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("devserver: %s address %s is not available (another Temporal dev server running?); stop it or choose another address: %w", what, addr, err)
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
