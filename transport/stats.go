package transport

import "sync/atomic"

// Stats are counters since the pool was created.
type Stats struct {
	Handshakes        int64 // SSH handshakes attempted (nodes and bastions)
	Dials             int64 // connections established
	Reused            int64 // calls served by an already open connection
	Redials           int64 // calls that found their connection dead and dialled again
	LRUClosed         int64 // idle connections closed to stay under MaxConns
	CapWaits          int64 // times a call waited for a free slot
	KeepaliveFailures int64 // connections closed for an unanswered keepalive
	Open              int   // node connections open or dialling now
	PeakOpen          int64 // highest Open seen
}

type stats struct {
	handshakes, dials, reused, redials, lruClosed, capWaits, keepaliveFailures, peakOpen atomic.Int64
}

func (s *stats) notePeak(open int) {
	for {
		cur := s.peakOpen.Load()
		if int64(open) <= cur || s.peakOpen.CompareAndSwap(cur, int64(open)) {
			return
		}
	}
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	open := p.open
	p.mu.Unlock()
	return Stats{
		Handshakes:        p.stats.handshakes.Load(),
		Dials:             p.stats.dials.Load(),
		Reused:            p.stats.reused.Load(),
		Redials:           p.stats.redials.Load(),
		LRUClosed:         p.stats.lruClosed.Load(),
		CapWaits:          p.stats.capWaits.Load(),
		KeepaliveFailures: p.stats.keepaliveFailures.Load(),
		Open:              open,
		PeakOpen:          p.stats.peakOpen.Load(),
	}
}
