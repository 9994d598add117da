package epollnet

import "time"

// The engine-wide idle and read timeouts are checked by a sweep over the
// loop's connections rather than by a timer per connection: a server
// holding many idle connections pays for them in memory, and a timer entry
// (64 bytes, plus its slot in the heap) would cost more than half a Conn
// again. Conn already keeps the times of its last read and last activity,
// so a sweep needs nothing more. It runs every eighth of the shorter
// timeout (at most a second, at least a millisecond), so a timeout fires
// between its duration and its duration plus that period after the last
// activity: coarse, as idle and read timeouts may be. Timeouts set on a
// connection (SetIdleTimeout, SetReadTimeout) take its timer entry instead
// (conn_deadline.go).

const (
	sweepDivisor = 8 // the sweep period is the shorter timeout over this
	sweepMin     = int64(time.Millisecond)
	sweepMax     = int64(time.Second)
)

// idleSweep is a loop's sweep: its entry in the timer heap, its period
// (0 when the engine has no idle or read timeout) and those timeouts.
type idleSweep struct {
	e      timerEntry
	every  int64
	idleNs int64
	readNs int64
}

// initSweep sets the sweep's period from the engine's timeouts.
func (l *loop) initSweep() {
	s := &l.sweep
	s.e = timerEntry{index: -1, owner: s}
	s.idleNs, s.readNs = durNanos(l.opts.IdleTimeout), durNanos(l.opts.ReadTimeout)
	s.every = sweepPeriod(s.idleNs, s.readNs)
}

// sweepPeriod returns the period for the given timeouts (0 for none), or 0.
func sweepPeriod(idleNs, readNs int64) int64 {
	d := idleNs
	if d == 0 || (readNs > 0 && readNs < d) {
		d = readNs
	}
	if d == 0 {
		return 0
	}
	return min(max(d/sweepDivisor, sweepMin), sweepMax)
}

// armSweep schedules the sweep, unless the engine has no idle or read
// timeout or the sweep is already scheduled. A connection that opens
// calls it; the sweep re-arms itself while it finds connections to watch.
func (l *loop) armSweep() {
	s := &l.sweep
	if s.every == 0 || s.e.index >= 0 {
		return
	}
	l.timers.schedule(&s.e, l.now+s.every)
}

// fire runs the sweep (timerOwner).
func (s *idleSweep) fire(l *loop) { l.sweepConns() }

// sweepConns closes the open connections whose engine-wide idle or read
// timeout has passed, and re-arms itself while any connection is left to
// watch. Connections that are closing (send and linger deadlines bound
// them) or have timeouts of their own are skipped. It walks the descriptor
// table's pages directly: a closure per connection would cost a call each.
func (l *loop) sweepConns() {
	s := &l.sweep
	watched := false
	for _, pg := range l.fds.pages {
		if pg == nil {
			continue
		}
		for i := range pg {
			c := pg[i].conn
			if c == nil || c.state != stateOpen || c.lf.has(lClosing|lOwnTimeouts) {
				continue
			}
			if !l.timedOut(c, s.idleNs, s.readNs) {
				watched = true
			}
		}
	}
	if watched {
		l.armSweep()
	}
}
