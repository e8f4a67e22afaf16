// Package historytest records the workflow histories that the replay test
// in package workflows replays (workflows/testdata/histories). It runs the
// workflows on the embedded Temporal server, with the real activities over
// a scripted node helper, and writes each history as JSON:
//
//	KMEMFIX_RECORD_HISTORIES=1 go test ./workflows/historytest
//
// It lives in its own package so the workflows tests never compile the
// Temporal server. Without the variable the test runs the same scenarios
// and checks their outcomes, but writes nothing.
package historytest
