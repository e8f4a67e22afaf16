// Command kmemfix-node is the node helper: uploaded to each node and run
// over SSH, one subcommand per step of the safe procedure.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/kmemfix/kmemfix/node/helper"
	"github.com/kmemfix/kmemfix/node/realos"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx)
	stop()
	os.Exit(code)
}

// run turns the lab's --crash-after-ops panic into the exit of a killed process.
func run(ctx context.Context) (code int) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(helper.Crash); ok {
				code = 137
				return
			}
			panic(r)
		}
	}()
	return helper.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, realos.OS{})
}
