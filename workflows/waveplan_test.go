package workflows

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWavePlanJSONAndResolve(t *testing.T) {
	var p WavePlan
	require.NoError(t, json.Unmarshal([]byte(`[1, 10, "5%", "25%", "100%"]`), &p))
	require.NoError(t, p.Validate())
	require.Equal(t, []int{1, 10, 50, 250, 1000}, p.Resolve(1000))
	// A small fleet: 5% of 100 is 5, below the 10 already reached: dropped.
	require.Equal(t, []int{1, 10, 25, 100}, p.Resolve(100))
	require.Equal(t, []int{1, 3}, p.Resolve(3))
	b, err := json.Marshal(p)
	require.NoError(t, err)
	require.JSONEq(t, `[1, 10, "5%", "25%", "100%"]`, string(b))
}

func TestWavePlanErrors(t *testing.T) {
	cases := map[string]string{
		`[]`:                  "the wave plan is empty",
		`[1, "50%"]`:          "end the plan with \"100%\"",
		`[10, 5, "100%"]`:     "counts must increase",
		`["50%", "20%"]`:      "percents must increase",
		`[0, "100%"]`:         "at least 1",
		`["150%"]`:            "(0, 100]",
		`["abc", "100%"]`:     "give a node count",
		`[{"x": 1}, "100%"]`:  "give a count or a percent",
		`["-5%", "100%"]`:     "(0, 100]",
		`[1.5, "100%"]`:       "give a node count",
		`["10", "100%"]`:      "",
		`[" 5 %", "100 %"]`:   "",
		`["100%", "100%"]`:    "percents must increase",
		`[1, 2, 3, "100.0%"]`: "",
	}
	for in, want := range cases {
		t.Run(in, func(t *testing.T) {
			var p WavePlan
			err := json.Unmarshal([]byte(in), &p)
			if err == nil {
				err = p.Validate()
			}
			if want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, want)
		})
	}
	_, err := ParseWavePlan("1,10,5%,100%")
	require.NoError(t, err)
}

func TestFailureBudget(t *testing.T) {
	b, err := ParseFailureBudget("10%")
	require.NoError(t, err)
	require.Equal(t, 0, b.Allowed(9))
	require.Equal(t, 2, b.Allowed(25))
	b, err = ParseFailureBudget("3")
	require.NoError(t, err)
	require.Equal(t, 3, b.Allowed(1000))
	_, err = ParseFailureBudget("x")
	require.ErrorContains(t, err, "give a count")
	require.False(t, b.Counts(OutcomeUnreachable))
	b.CountUnreachable = true
	require.True(t, b.Counts(OutcomeUnreachable))
	require.False(t, b.Counts(OutcomeNeedsReboot))
	require.True(t, b.Counts(OutcomeFailedRolledBack))
}

func TestMaintenanceWindow(t *testing.T) {
	m := MaintenanceWindow{Start: "22:00", Duration: 4 * time.Hour}
	require.NoError(t, m.Validate())
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return v
	}
	require.Equal(t, 2*time.Hour, m.NextOpen(at("2026-11-27T20:00:00Z")))
	require.Zero(t, m.NextOpen(at("2026-11-27T23:00:00Z")))
	require.Zero(t, m.NextOpen(at("2026-11-28T01:59:00Z")), "a window that opened yesterday is still open")
	require.Equal(t, 20*time.Hour, m.NextOpen(at("2026-11-28T02:00:00Z")))
	m.Days = []string{"sat"} // 2026-11-27 is a Friday
	require.Equal(t, 26*time.Hour, m.NextOpen(at("2026-11-27T20:00:00Z")))
	require.ErrorContains(t, MaintenanceWindow{Start: "25:00", Duration: time.Hour}.Validate(), "like \"22:00\"")
	require.ErrorContains(t, MaintenanceWindow{Start: "22:00", Duration: time.Hour, Days: []string{"funday"}}.Validate(), "use mon")
}
