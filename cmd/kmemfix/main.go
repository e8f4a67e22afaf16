// Command kmemfix is the kmemfix command line: configuration, fleet
// rollouts, surveys, single-node runs, the embedded Temporal dev server and
// the simulated fleet. See `kmemfix --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/kmemfix/kmemfix/starter"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := starter.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
