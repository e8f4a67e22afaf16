// Package devserver runs a Temporal server in-process: the frontend, history,
// matching and worker services on SQLite (a file, or memory for tests), plus
// the Temporal Web UI. It is what `kmemfix dev`, `make demo` and the
// integration tests talk to when no Temporal cluster exists.
//
// The package imports go.temporal.io/server (a large, slow-to-compile
// dependency): import it only from binaries that need an embedded server,
// never from the worker.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"go.temporal.io/api/enums/v1"
)

// Defaults, the same ports as Temporal's own dev server (`temporal server start-dev`).
const (
	DefaultFrontendAddr = "127.0.0.1:7233"
	DefaultUIAddr       = "127.0.0.1:8233"
	DefaultNamespace    = "default"
	DefaultRetention    = 7 * 24 * time.Hour
	// UIOff disables the Web UI when given as Options.UIAddr (as does "").
	UIOff = "off"
	// DatabaseFile is the SQLite file created under Options.StateDir.
	DatabaseFile = "temporal.sqlite"
)

// Options configures Start. The zero value is a usable in-memory server on
// DefaultFrontendAddr, without UI, namespace "default".
type Options struct {
	// StateDir holds the SQLite database (DatabaseFile). It is created if
	// missing. "" keeps all state in memory: it is gone after Stop.
	StateDir string
	// FrontendAddr is the gRPC address clients and workers dial, host:port on
	// a loopback or local IP. "" means DefaultFrontendAddr; port 0 picks a free port.
	FrontendAddr string
	// UIAddr is where the Web UI listens, host:port. "" or UIOff disables the
	// UI (pass DefaultUIAddr for the usual port); port 0 picks a free port.
	UIAddr string
	// Namespace is registered if missing; "" means DefaultNamespace. The UI
	// opens on it.
	Namespace string
	// ExtraNamespaces are registered too, with the same search attributes.
	ExtraNamespaces []string
	// SearchAttributes are custom search attributes registered on every
	// namespace above, at every start (already registered ones are kept).
	SearchAttributes map[string]enums.IndexedValueType
	// Retention of closed workflows in newly registered namespaces and in
	// existing ones at start; 0 means DefaultRetention. At least one day.
	Retention time.Duration
	// Logger receives the server's own logs; nil discards them.
	Logger *slog.Logger
	// LogLevel filters the server's logs; nil means slog.LevelWarn (the
	// server is chatty at info).
	LogLevel slog.Leveler
}

// withDefaults returns a copy of o with every default applied, or an error
// naming each invalid field.
func (o Options) withDefaults(ctx context.Context) (Options, error) {
	if o.FrontendAddr == "" {
		o.FrontendAddr = DefaultFrontendAddr
	}
	if o.UIAddr == UIOff {
		o.UIAddr = ""
	}
	o.FrontendAddr, o.UIAddr = loopbackName(o.FrontendAddr), loopbackName(o.UIAddr)
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.LogLevel == nil {
		o.LogLevel = slog.LevelWarn
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.StateDir != "" {
		abs, err := filepath.Abs(o.StateDir)
		if err != nil {
			return o, fmt.Errorf("devserver: state dir %q: %w", o.StateDir, err)
		}
		o.StateDir = abs
	}
	return o, o.validate(ctx)
}

func (o Options) validate(ctx context.Context) error {
	var errs []error
	if err := checkHostPort(ctx, o.FrontendAddr); err != nil {
		errs = append(errs, fmt.Errorf("devserver: frontend address %q: %w (want host:port, e.g. %s)", o.FrontendAddr, err, DefaultFrontendAddr))
	}
	if o.UIAddr != "" {
		if err := checkHostPort(ctx, o.UIAddr); err != nil {
			errs = append(errs, fmt.Errorf("devserver: UI address %q: %w (want host:port, e.g. %s, or %q)", o.UIAddr, err, DefaultUIAddr, UIOff))
		}
	}
	if o.Retention < 24*time.Hour {
		errs = append(errs, fmt.Errorf("devserver: retention %s is below the server's minimum of 24h", o.Retention))
	}
	seen := map[string]bool{}
	for _, ns := range o.namespaces() {
		if seen[ns] {
			errs = append(errs, fmt.Errorf("devserver: namespace %q listed twice", ns))
		}
		seen[ns] = true
	}
	return errors.Join(errs...)
}

// namespaces lists the main namespace first, then the extra ones.
func (o Options) namespaces() []string {
	return append([]string{o.Namespace}, o.ExtraNamespaces...)
}

// loopbackName turns "localhost:P" into "127.0.0.1:P": the server binds IPs.
func loopbackName(addr string) string {
	if host, port, err := net.SplitHostPort(addr); err == nil && host == "localhost" {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

func checkHostPort(ctx context.Context, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if net.ParseIP(host) == nil {
		return fmt.Errorf("host %q is not an IP address", host)
	}
	if _, err := net.DefaultResolver.LookupPort(ctx, "tcp", port); err != nil {
		return err
	}
	return nil
}
