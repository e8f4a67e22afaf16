package report

import "fmt"

// chart is the SVG histogram of free css ids over the nodes whose headroom
// is known. Bins double in width from 1,024 ids: little headroom, where the
// decisions are, gets the finest bins.
type chart struct {
	Width, Height    int
	Left, Top, PlotH int // plot origin and height
	Bars             []bar
	YTicks           []tick
	Known, Unknown   int
	Short            int // nodes with fewer free ids than the procedure needs
	Max              int
	Limit            int
}

type bar struct {
	Label      string
	N          int
	X, Y, W, H int
	Short      bool // every node in the bin is short of headroom
	TextX      int
}

type tick struct {
	Y     int
	Label string
}

const (
	chartW, chartH = 720, 260
	plotLeft       = 48
	plotTop        = 16
	plotH          = 190
)

// binEdges returns the lower edges of the bins up to limit.
func binEdges(limit int) []int {
	edges := []int{0}
	for e := 1024; e <= limit; e *= 2 {
		edges = append(edges, e)
	}
	return edges
}

func binLabel(lo, hi int) string {
	k := func(v int) string {
		if v >= 1024 {
			return fmt.Sprintf("%dk", v/1024)
		}
		return fmt.Sprint(v)
	}
	return k(lo) + "–" + k(hi)
}

func newChart(nodes []Node, limit int) chart {
	edges := binEdges(limit)
	counts := make([]int, len(edges))
	short := make([]int, len(edges))
	c := chart{Limit: limit, Width: chartW, Height: chartH, Left: plotLeft, Top: plotTop, PlotH: plotH}
	for _, n := range nodes {
		if !n.HeadroomKnown {
			if n.Verdict != VerdictUnreachable && n.Verdict != VerdictError {
				c.Unknown++
			}
			continue
		}
		c.Known++
		i := len(edges) - 1
		for i > 0 && n.FreeIDs < edges[i] {
			i--
		}
		counts[i]++
		if n.FreeIDs < n.Required {
			short[i]++
			c.Short++
		}
	}
	for _, n := range counts {
		c.Max = max(c.Max, n)
	}
	scale := max(c.Max, 1)
	slot := (chartW - plotLeft - 8) / len(edges)
	for i, n := range counts {
		hi := limit + 1
		if i+1 < len(edges) {
			hi = edges[i+1]
		}
		h := n * plotH / scale
		x := plotLeft + i*slot + slot/8
		c.Bars = append(c.Bars, bar{Label: binLabel(edges[i], hi), N: n, X: x, Y: plotTop + plotH - h,
			W: slot * 3 / 4, H: h, Short: n > 0 && short[i] == n, TextX: x + slot*3/8})
	}
	for _, v := range []int{0, scale / 2, scale} {
		if v == scale/2 && (scale < 2 || scale%2 != 0) {
			continue
		}
		c.YTicks = append(c.YTicks, tick{Y: plotTop + plotH - v*plotH/scale, Label: fmt.Sprint(v)})
	}
	return c
}
