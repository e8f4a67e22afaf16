package devserver_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

const taskQueue = "devserver-test"

// Search attributes the tests register, typed like the real ones.
var (
	rolloutKey = temporal.NewSearchAttributeKeyKeyword("KmemfixTestRollout")
	nodesKey   = temporal.NewSearchAttributeKeyInt64("KmemfixTestNodes")
	testAttrs  = map[string]enums.IndexedValueType{
		rolloutKey.GetName(): enums.INDEXED_VALUE_TYPE_KEYWORD,
		nodesKey.GetName():   enums.INDEXED_VALUE_TYPE_INT,
	}
)

// greet marks itself with the test search attributes and answers.
func greet(ctx workflow.Context, name string) (string, error) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, rolloutKey.ValueSet(name), nodesKey.ValueSet(int64(len(name)))); err != nil {
		return "", err
	}
	return "hello " + name, nil
}

// runGreeting runs greet(name) as workflow id to completion with a worker of
// its own, and checks its answer.
func runGreeting(t *testing.T, c client.Client, id, name string) {
	t.Helper()
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflow(greet)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: taskQueue}, greet, name)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	if err := run.Get(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if got != "hello "+name {
		t.Fatalf("workflow answered %q, want %q", got, "hello "+name)
	}
}

// eventually retries check every 100 ms until it returns nil or 20 s pass:
// visibility (lists, search attributes) trails workflow state slightly.
func eventually(t *testing.T, check func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freeAddr returns a 127.0.0.1 address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}
