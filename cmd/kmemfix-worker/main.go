// Command kmemfix-worker is the kmemfix Temporal worker: it runs the node
// and rollout workflows and reaches nodes over SSH. It stops gracefully on
// SIGTERM or SIGINT.
//
//	kmemfix-worker --config /etc/kmemfix/kmemfix.yaml
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/kmemfix/kmemfix/config"
	"github.com/kmemfix/kmemfix/worker"
)

func main() {
	fs := pflag.NewFlagSet("kmemfix-worker", pflag.ContinueOnError)
	path := fs.String("config", "", "configuration file (YAML; default $KMEMFIX_CONFIG)")
	config.RegisterFlags(fs)
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	cfg, err := config.Load(*path, fs)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kmemfix-worker: %v\n", err)
		os.Exit(2)
	}
	logger := cfg.Telemetry.NewLogger(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := worker.Run(ctx, cfg, logger); err != nil {
		logger.Error("kmemfix worker failed", "err", err)
		stop()
		os.Exit(1)
	}
}
