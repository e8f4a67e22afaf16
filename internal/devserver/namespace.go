package devserver

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/durationpb"
)

// cacheWait bounds how long Start waits for the server's namespace cache to
// show a change made through the API (it refreshes every 2 s).
const cacheWait = 30 * time.Second

// ensureRetention sets the namespace's retention when it differs: a
// namespace created by an earlier start keeps its data but follows the
// current option.
func ensureRetention(ctx context.Context, wf workflowservice.WorkflowServiceClient, ns string, retention time.Duration) error {
	desc, err := wf.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
	if err != nil {
		return fmt.Errorf("devserver: describe namespace %q: %w", ns, err)
	}
	if desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration() == retention {
		return nil
	}
	_, err = wf.UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: ns,
		Config:    &namespace.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(retention)},
	})
	if err != nil {
		return fmt.Errorf("devserver: set retention of namespace %q to %s: %w", ns, retention, err)
	}
	return nil
}

// ensureSearchAttributes registers the attributes the namespace lacks and
// waits until the server reports them all. An attribute registered earlier
// with another type is an error: the server cannot change it in place.
func ensureSearchAttributes(ctx context.Context, op operatorservice.OperatorServiceClient, ns string, want map[string]enums.IndexedValueType) error {
	if len(want) == 0 {
		return nil
	}
	missing, err := missingSearchAttributes(ctx, op, ns, want)
	if err != nil || len(missing) == 0 {
		return err
	}
	_, err = op.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: ns, SearchAttributes: missing})
	if err != nil {
		return fmt.Errorf("devserver: register search attributes %v on namespace %q: %w", slices.Sorted(maps.Keys(missing)), ns, err)
	}
	ctx, cancel := context.WithTimeout(ctx, cacheWait)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if missing, err = missingSearchAttributes(ctx, op, ns, want); err != nil || len(missing) == 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devserver: search attributes %v on namespace %q were registered but do not show yet: %w", slices.Sorted(maps.Keys(missing)), ns, ctx.Err())
		case <-tick.C:
		}
	}
}

// missingSearchAttributes lists the wanted attributes the namespace lacks.
func missingSearchAttributes(ctx context.Context, op operatorservice.OperatorServiceClient, ns string, want map[string]enums.IndexedValueType) (map[string]enums.IndexedValueType, error) {
	resp, err := op.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	if err != nil {
		return nil, fmt.Errorf("devserver: list search attributes of namespace %q: %w", ns, err)
	}
	have := resp.GetCustomAttributes()
	missing := map[string]enums.IndexedValueType{}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		got, ok := have[name]
		switch {
		case !ok:
			missing[name] = want[name]
		case got != want[name]:
			return nil, fmt.Errorf("devserver: search attribute %q on namespace %q is registered as %s, want %s: use a new state dir or another attribute name", name, ns, got, want[name])
		}
	}
	return missing, nil
}
