// Package worker runs the kmemfix Temporal worker: it connects to Temporal
// as configured, registers the node and rollout workflows and their
// activities, reaches nodes through the SSH transport, and stops cleanly on
// SIGTERM/SIGINT. It never imports go.temporal.io/server, so the production
// worker binary stays small.
package worker
