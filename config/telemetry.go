package config

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// ParseLevel reads debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToLower(s))); err != nil {
		return 0, fmt.Errorf("config: log level %q: %w", s, err)
	}
	return l, nil
}

// NewLogger builds the process logger from the telemetry settings, writing
// to w. Secrets are of type Secret and log as a mask.
func (t Telemetry) NewLogger(w io.Writer) *slog.Logger {
	level, err := ParseLevel(t.LogLevel)
	if err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if t.LogFormat == LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
