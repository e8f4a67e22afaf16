package devserver_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/kmemfix/kmemfix/internal/devserver"
)

// What `kmemfix dev` does: a server on the usual ports with its state in a
// folder and the UI on, until interrupted.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	srv, err := devserver.Start(ctx, devserver.Options{
		StateDir: "/var/lib/kmemfix/dev",
		UIAddr:   devserver.DefaultUIAddr,
		SearchAttributes: map[string]enums.IndexedValueType{
			"KmemfixRollout": enums.INDEXED_VALUE_TYPE_KEYWORD,
		},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer srv.Stop()
	fmt.Printf("Temporal on %s, UI at %s\n", srv.FrontendAddress(), srv.UIURL())

	c, err := srv.Dial(ctx, client.Options{}) // or any SDK client on FrontendAddress()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer c.Close()
	<-ctx.Done()
}
