package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ParseJumpHost reads [user@]host[:port]; port defaults to 22 and user to "".
func ParseJumpHost(s string) (user, host string, port int, err error) {
	rest := s
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		user, rest = rest[:i], rest[i+1:]
		if user == "" {
			return "", "", 0, fmt.Errorf("has an empty user before @")
		}
	}
	host, port = rest, 22
	if h, p, err := net.SplitHostPort(rest); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", "", 0, fmt.Errorf("has no valid port")
		}
		host, port = h, n
	}
	if host == "" || strings.ContainsAny(host, " /") {
		return "", "", 0, fmt.Errorf("has no valid host")
	}
	return user, host, port, nil
}
