package wire

import (
	"reflect"
	"strings"
	"testing"
)

func TestReportSurvivesTheConsole(t *testing.T) {
	r := &Report{Name: "procedure", Kernel: "6.1", Checks: []Check{{Name: "mirror-gone", OK: true}},
		Before: map[string]Values{"burstable/pod1/c 1": {"memory.limit_in_bytes": "299999232"}}}
	text, err := EncodeReport(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(text, "\n") {
		if len(line) > 76 {
			t.Fatalf("line of %d characters", len(line))
		}
	}
	// The serial console turns \n into \r\n.
	got, err := DecodeReport(strings.ReplaceAll(text, "\n", "\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("decoded %+v, want %+v", got, r)
	}
}
