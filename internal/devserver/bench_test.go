package devserver_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/kmemfix/kmemfix/internal/devserver"
)

// BenchmarkStart measures Start (until the namespaces are ready; Stop is
// not timed): in memory, on a new state dir (schema created), and on an
// existing one.
//
//	go test -run '^$' -bench Start -benchtime 5x ./internal/devserver/
func BenchmarkStart(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		for b.Loop() {
			startStop(b, devserver.Options{FrontendAddr: "127.0.0.1:0", SearchAttributes: testAttrs})
		}
	})
	b.Run("new-file", func(b *testing.B) {
		for b.Loop() {
			startStop(b, devserver.Options{FrontendAddr: "127.0.0.1:0", StateDir: b.TempDir(), SearchAttributes: testAttrs})
		}
	})
	b.Run("existing-file", func(b *testing.B) {
		o := devserver.Options{FrontendAddr: "127.0.0.1:0", StateDir: b.TempDir(), SearchAttributes: testAttrs}
		startStop(b, o)
		for b.Loop() {
			startStop(b, o)
		}
	})
}

func startStop(b *testing.B, o devserver.Options) {
	srv, err := devserver.Start(context.Background(), o)
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if err := srv.Stop(); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
}

// BenchmarkWorkflow measures one greet workflow end to end (start, one
// workflow task with a search attribute upsert, result), run one after
// another, in memory and on a file.
//
//	go test -run '^$' -bench Workflow -benchtime 50x ./internal/devserver/
func BenchmarkWorkflow(b *testing.B) {
	for _, state := range []string{"memory", "file"} {
		b.Run(state, func(b *testing.B) {
			o := devserver.Options{FrontendAddr: "127.0.0.1:0", SearchAttributes: testAttrs}
			if state == "file" {
				o.StateDir = filepath.Join(b.TempDir(), "state")
			}
			srv, err := devserver.Start(context.Background(), o)
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Stop()
			c, err := srv.Dial(context.Background(), client.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			w := worker.New(c, taskQueue, worker.Options{})
			w.RegisterWorkflow(greet)
			if err := w.Start(); err != nil {
				b.Fatal(err)
			}
			defer w.Stop()
			i := 0
			for b.Loop() {
				i++
				run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: fmt.Sprint("bench-", i), TaskQueue: taskQueue}, greet, "bench")
				if err != nil {
					b.Fatal(err)
				}
				if err := run.Get(context.Background(), nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
