package simnode

import "math"

// parseULL is the kernel's simple_strtoull(s, &end, 0): an optional 0x
// (hex) or 0 (octal) prefix, then digits. It returns the value (saturated
// on overflow), what follows the digits, and whether any digit was read.
func parseULL(s string) (uint64, string, bool) {
	base := uint64(10)
	i := 0
	switch {
	case len(s) >= 3 && s[0] == '0' && s[1]|0x20 == 'x' && hexDigit(s[2]) < 16:
		base, i = 16, 2
	case len(s) >= 1 && s[0] == '0':
		base = 8
	}
	start := i
	var v uint64
	for ; i < len(s); i++ {
		d := hexDigit(s[i])
		if d >= base {
			break
		}
		if v > (math.MaxUint64-d)/base {
			v = math.MaxUint64
		} else {
			v = v*base + d
		}
	}
	return v, s[i:], i > start
}

func hexDigit(c byte) uint64 {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0')
	case c|0x20 >= 'a' && c|0x20 <= 'f':
		return uint64(c|0x20-'a') + 10
	}
	return 99
}

// parseU64 is a cgroup write_u64 handler's parse of a stripped buffer.
func parseU64(s string) (uint64, bool) {
	v, rest, ok := parseULL(s)
	return v, ok && rest == ""
}

// parseLimit is page_counter_memparse for a cgroup v1 limit file: "-1" is
// unlimited; otherwise memparse (a number with an optional K/M/G/T/P/E
// suffix) rounded down to whole pages, capped at the maximum.
func (n *Node) parseLimit(s string) (int64, bool) {
	if s == "-1" {
		return n.unlimited, true
	}
	v, rest, ok := parseULL(s)
	if !ok {
		return 0, false
	}
	shift := uint(0)
	if rest != "" {
		switch rest[0] | 0x20 {
		case 'k':
			shift = 10
		case 'm':
			shift = 20
		case 'g':
			shift = 30
		case 't':
			shift = 40
		case 'p':
			shift = 50
		case 'e':
			shift = 60
		default:
			return 0, false
		}
		rest = rest[1:]
	}
	if rest != "" {
		return 0, false
	}
	if shift > 0 {
		if v > math.MaxUint64>>shift {
			v = math.MaxUint64
		} else {
			v <<= shift
		}
	}
	ps := uint64(n.cfg.PageSize)
	pages := v / ps
	if maxPages := uint64(n.unlimited) / ps; pages > maxPages {
		pages = maxPages
	}
	return int64(pages * ps), true
}
