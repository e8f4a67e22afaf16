package devservertest_test

import (
	"context"
	"net"
	"testing"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/kmemfix/kmemfix/internal/devserver"
	"github.com/kmemfix/kmemfix/internal/devserver/devservertest"
)

func TestServerServesAndStopsWhenTheTestEnds(t *testing.T) {
	var addr string
	t.Run("uses the server", func(t *testing.T) {
		srv := devservertest.Start(t, func(o *devserver.Options) { o.Namespace = "kmemfix-test" })
		addr = srv.FrontendAddress()
		c := devservertest.Client(t, srv)
		if _, err := c.CheckHealth(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		req := &workflowservice.DescribeNamespaceRequest{Namespace: "kmemfix-test"}
		if _, err := c.WorkflowService().DescribeNamespace(context.Background(), req); err != nil {
			t.Fatalf("the namespace option was not applied: %v", err)
		}
	})
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the frontend %s still listens after its test ended: %v", addr, err)
	}
	l.Close()
}
