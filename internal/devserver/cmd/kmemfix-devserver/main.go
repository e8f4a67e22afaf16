// Command kmemfix-devserver runs the embedded Temporal server and Web UI on
// their own, without the kmemfix CLI: for measuring the package (binary size,
// start time) and as a standalone fallback for `kmemfix dev`.
//
//	kmemfix-devserver [-state-dir DIR] [-frontend ADDR] [-ui ADDR] [-namespace NS]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kmemfix/kmemfix/internal/devserver"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kmemfix-devserver:", err)
		os.Exit(1)
	}
}

func run() error {
	var o devserver.Options
	flag.StringVar(&o.StateDir, "state-dir", "", "keep state in this folder (empty: in memory)")
	flag.StringVar(&o.FrontendAddr, "frontend", devserver.DefaultFrontendAddr, "frontend gRPC address")
	flag.StringVar(&o.UIAddr, "ui", devserver.DefaultUIAddr, `Web UI address ("off" to disable)`)
	flag.StringVar(&o.Namespace, "namespace", devserver.DefaultNamespace, "namespace to register")
	flag.Parse()
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	began := time.Now()
	srv, err := devserver.Start(ctx, o)
	if err != nil {
		return err
	}
	fmt.Printf("frontend %s  ui %s  namespace %s  started in %s\n",
		srv.FrontendAddress(), srv.UIURL(), srv.Namespace(), time.Since(began).Round(time.Millisecond))
	<-ctx.Done()
	return srv.Stop()
}
