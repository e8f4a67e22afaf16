// Package telemetry is what kmemfix shows of itself while it runs: traces,
// metrics and logs.
//
// Setup builds an OpenTelemetry TracerProvider (exporting over OTLP when an
// endpoint is configured) and a MeterProvider read by a Prometheus exporter
// (served by Handler at the worker's /metrics). Apply puts the Temporal SDK
// integrations into client.Options: the SDK's OpenTelemetry tracing
// interceptor, so one rollout is one trace (rollout workflow -> node
// workflow -> step activity -> ssh.exec span), the SDK's metrics through
// OpenTelemetry, and a worker interceptor that times every step and counts
// the nodes with a step running.
//
// Metric names as Prometheus shows them:
//
//	kmemfix_step_duration_seconds{step,result,workflow_type}  histogram, every activity (interceptor)
//	kmemfix_nodes_in_flight{workflow_type}          up-down counter: steps running; for KmemfixNode, the nodes in work
//	kmemfix_ssh_duration_seconds{phase}             histogram: dial, handshake, exec (Metrics.SSH)
//	kmemfix_ssh_errors_total{phase,class}           counter (Metrics.SSH)
//	kmemfix_nodes_total{outcome}                    counter, from the node workflow (RecordNode)
//	kmemfix_kubelet_down_seconds                    histogram, from the node workflow (RecordNode)
//	kmemfix_ssh_pool_*                              the SSH pool's counters (ObserveSSHPool)
//	temporal_*                                      the Temporal SDK's own metrics
//
// NewLogHandler is a log/slog JSON handler that adds the rollout ID, node
// and step (from WithRollout/WithNode/WithStep or the running activity) and
// the trace and span IDs to every record logged with a context.
package telemetry
