package main

import (
	"reflect"
	"testing"
)

func TestCrashPointsAscendDistinctFromOne(t *testing.T) {
	for _, c := range []struct {
		total     int
		fractions []float64
		want      []int
	}{
		{246, []float64{0, 0.5}, []int{1, 123}},
		{246, []float64{0, 0.5, 0.9}, []int{1, 123, 221}},
		{2, []float64{0, 0.5}, []int{1}}, // 0.5*2 rounds to 1: no duplicate
		{1, []float64{0, 0.5, 0.9}, []int{1}},
	} {
		if got := crashPoints(c.total, c.fractions); !reflect.DeepEqual(got, c.want) {
			t.Errorf("crashPoints(%d, %v) = %v, want %v", c.total, c.fractions, got, c.want)
		}
	}
}

func TestPickTrackedTakesSpecialContainersFirst(t *testing.T) {
	before := tree{
		"":                 {},
		"burstable":        {},
		"burstable/p1":     {},
		"burstable/p1/hog": {pids: []int{10}},
		"burstable/p1/a":   {pids: []int{11, 12}},
		"burstable/p1/b":   {pids: []int{13}},
		"burstable/p1/c":   {pids: []int{14}},
	}
	got := pickTracked(before, 3, []string{"burstable/p1/hog"})
	if len(got) != 3 || got[10] != "burstable/p1/hog" {
		t.Errorf("tracked %v: want 3 processes, the hog's among them", got)
	}
	for pid, rel := range got {
		found := false
		for _, p := range before[rel].pids {
			found = found || p == pid
		}
		if !found {
			t.Errorf("pid %d is not in %q", pid, rel)
		}
	}
}
