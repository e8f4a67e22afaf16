package simnode

import "container/heap"

// idAllocator hands out css ids the way 3.10's idr does for a subsystem:
// always the lowest free id in 1..max. Ids at or above next were never
// handed out; free holds the released ones below next, so allocation and
// release are O(log n) however many ids are leaked.
type idAllocator struct {
	max  int
	next int
	free intHeap
}

func newIDAllocator(maxID int) *idAllocator {
	return &idAllocator{max: maxID, next: 1}
}

func (a *idAllocator) alloc() (int, bool) {
	if len(a.free) > 0 {
		return heap.Pop(&a.free).(int), true
	}
	if a.next > a.max {
		return 0, false
	}
	id := a.next
	a.next++
	return id, true
}

func (a *idAllocator) release(id int) { heap.Push(&a.free, id) }

func (a *idAllocator) inUse() int { return a.next - 1 - len(a.free) }

type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
