package transport

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestLineWriterMarkerAndChunking(t *testing.T) {
	input := pgidMarker + "4242\n{\"done\":1}\n{\"done\":2}\npartial"
	for _, chunk := range []int{1, 2, 7, len(input)} {
		var lines []string
		w := &lineWriter{buf: capBuffer{max: 1 << 20}, fn: func(s string) { lines = append(lines, s) }, first: true}
		for i := 0; i < len(input); i += chunk {
			w.Write([]byte(input[i:min(i+chunk, len(input))]))
		}
		w.flush()
		if got := strings.Join(lines, "|"); got != `{"done":1}|{"done":2}|partial` {
			t.Errorf("chunk %d: lines %q", chunk, got)
		}
		if string(w.buf.b) != "{\"done\":1}\n{\"done\":2}\npartial" {
			t.Errorf("chunk %d: stderr %q", chunk, w.buf.b)
		}
		if w.pgid.Load() != 4242 {
			t.Errorf("chunk %d: pgid %d", chunk, w.pgid.Load())
		}
	}
}

func TestLineWriterWithoutMarker(t *testing.T) {
	for _, in := range []string{"plain error\nsecond\n", "short", strings.Repeat("x", 100) + "\n"} {
		var lines []string
		w := &lineWriter{buf: capBuffer{max: 1 << 20}, fn: func(s string) { lines = append(lines, s) }, first: true}
		w.Write([]byte(in))
		w.flush()
		if string(w.buf.b) != in || strings.Join(lines, "\n") != strings.TrimSuffix(in, "\n") || w.pgid.Load() != 0 {
			t.Errorf("%q: stderr %q lines %q pgid %d", in, w.buf.b, lines, w.pgid.Load())
		}
	}
}

func TestCapBuffer(t *testing.T) {
	c := &capBuffer{max: 5}
	n, err := c.Write([]byte("abc"))
	c.Write([]byte("defg"))
	if n != 3 || err != nil || string(c.b) != "abcde" || !c.truncated {
		t.Errorf("%q truncated %v", c.b, c.truncated)
	}
}

func TestParseSHA256Sum(t *testing.T) {
	h := strings.Repeat("ab", 32)
	for in, want := range map[string]string{
		h + "  /usr/bin/x\n":         h,
		`\` + h + `  /a\nb`:          h,
		"sha256sum: x: No such file": "",
		strings.ToUpper(h) + "  x":   "",
	} {
		if got := parseSHA256Sum(in); got != want {
			t.Errorf("parseSHA256Sum(%q) = %q", in, got)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err   error
		class Class
		retry bool
	}{
		{fmt.Errorf("x: %w", &HostKeyError{}), ClassHostKeyMismatch, false},
		{&UnknownHostError{}, ClassHostKeyUnknown, false},
		{newError(ClassAuthFailed, "n", "handshake", errors.New("no")), ClassAuthFailed, false},
		{newError(ClassUnreachable, "n", "dial", context.DeadlineExceeded), ClassUnreachable, true},
		{fmt.Errorf("wrapped: %w", context.Canceled), ClassCanceled, false},
		{newError(ClassBadInput, "n", "exec", ErrNUL), ClassBadInput, false},
		{newError(ClassRemote, "n", "upload", errors.New("eperm")), ClassRemote, true},
	} {
		if c := Classify(tc.err); c != tc.class || c.Retryable() != tc.retry {
			t.Errorf("Classify(%v) = %v (retryable %v), want %v (%v)", tc.err, c, c.Retryable(), tc.class, tc.retry)
		}
	}
}

func TestGoarch(t *testing.T) {
	for in, want := range map[string]string{"x86_64": "amd64", "aarch64": "arm64"} {
		if got, err := goarch(in); got != want || err != nil {
			t.Errorf("goarch(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := goarch("ppc64le"); err == nil {
		t.Error("ppc64le accepted")
	}
}
