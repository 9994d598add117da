package epollnet

import "sync/atomic"

// loopStats are one loop's counters. The loop increments them; Stats reads
// them from any goroutine.
type loopStats struct {
	opened, closed, accepted   atomic.Uint64
	acceptErrors, acceptPauses atomic.Uint64
	capPauses                  atomic.Uint64
	bytesIn, bytesOut          atomic.Uint64
	wakeups, events, stale     atomic.Uint64
	timers, highWater          atomic.Uint64
	dialed, dialFailed         atomic.Uint64
	dialFailedBy               [numErrorClasses]atomic.Uint64
	readAgain, writeAgain      atomic.Uint64
	proxyRejected              atomic.Uint64
	tlsHandshakes, tlsFailed   atomic.Uint64
	registered                 atomic.Int64
}

// LoopStats is a snapshot of one event loop's counters.
type LoopStats struct {
	Conns        int64  // connections open now
	Registered   int64  // descriptors registered in its epoll instance now
	Opened       uint64 // connections opened (accepted or dialed)
	Closed       uint64 // connections closed
	Accepted     uint64 // successful accept4 calls
	AcceptErrors uint64 // accept4 errors other than EAGAIN
	AcceptPauses uint64 // listener pauses after EMFILE, ENFILE, ENOBUFS, ENOMEM
	CapPauses    uint64 // times a listener stopped accepting at ListenConfig.MaxConns
	Dialed       uint64 // dials that connected (with TLS: whose handshake completed)
	DialFailed   uint64 // dials that failed (with TLS: also in the handshake)
	// DialFailedBy counts failed dials by class, indexed by ErrorClass
	// (DialFailedBy[ClassRefused], ...).
	DialFailedBy [numErrorClasses]uint64
	ReadEAGAIN   uint64 // reads that found the socket empty (EAGAIN)
	WriteEAGAIN  uint64 // writes the kernel refused in part or whole: output was buffered
	BytesIn      uint64 // bytes read
	BytesOut     uint64 // bytes written
	Wakeups      uint64 // returns from epoll_wait
	Events       uint64 // events epoll_wait returned
	StaleEvents  uint64 // events dropped for a closed or reused descriptor
	TimersFired  uint64 // timer expirations handled
	HighWater    uint64 // times a connection's output rose above WriteHighWater
	// ProxyRejected counts connections of listeners with ProxyProtocol that
	// were closed without a valid header: untrusted sources, malformed
	// headers, header timeouts, peers that left first. Except for untrusted
	// sources, refused before registration, they count in Opened and Closed.
	ProxyRejected uint64
	// TLSHandshakes counts TLS handshakes completed, on both sides.
	TLSHandshakes uint64
	// TLSHandshakeErrors counts TLS handshakes that failed: crypto/tls
	// refused (ErrTLSHandshake), the peer left or reset, the handshake
	// timed out. Handshakes cut by Engine.Shutdown or Engine.Abort do not
	// count. A failed server handshake is reported to
	// ListenConfig.OnTLSError, a failed client one counts in DialFailed
	// too.
	TLSHandshakeErrors uint64
}

// Stats is a snapshot of the engine's counters, per loop and summed.
type Stats struct {
	Loops []LoopStats
	Total LoopStats
}

// Stats returns a snapshot of the counters. It is cheap and safe from any
// goroutine; the values of one loop are read one by one, not atomically
// together.
func (e *Engine) Stats() Stats {
	var s Stats
	for _, l := range e.loops {
		ls := l.snapshot()
		s.Loops = append(s.Loops, ls)
		s.Total.add(ls)
	}
	return s
}

func (l *loop) snapshot() LoopStats {
	st := &l.stats
	var by [numErrorClasses]uint64
	for i := range by {
		by[i] = st.dialFailedBy[i].Load()
	}
	return LoopStats{DialFailedBy: by,
		Conns: l.nconns.Load(), Registered: st.registered.Load(),
		Opened: st.opened.Load(), Closed: st.closed.Load(), Accepted: st.accepted.Load(),
		AcceptErrors: st.acceptErrors.Load(), AcceptPauses: st.acceptPauses.Load(), CapPauses: st.capPauses.Load(),
		Dialed: st.dialed.Load(), DialFailed: st.dialFailed.Load(),
		ReadEAGAIN: st.readAgain.Load(), WriteEAGAIN: st.writeAgain.Load(),
		BytesIn: st.bytesIn.Load(), BytesOut: st.bytesOut.Load(),
		Wakeups: st.wakeups.Load(), Events: st.events.Load(), StaleEvents: st.stale.Load(),
		TimersFired: st.timers.Load(), HighWater: st.highWater.Load(),
		ProxyRejected: st.proxyRejected.Load(),
		TLSHandshakes: st.tlsHandshakes.Load(), TLSHandshakeErrors: st.tlsFailed.Load(),
	}
}

func (t *LoopStats) add(s LoopStats) {
	t.Conns += s.Conns
	t.Registered += s.Registered
	t.Opened += s.Opened
	t.Closed += s.Closed
	t.Accepted += s.Accepted
	t.AcceptErrors += s.AcceptErrors
	t.AcceptPauses += s.AcceptPauses
	t.CapPauses += s.CapPauses
	t.Dialed += s.Dialed
	t.DialFailed += s.DialFailed
	for i := range t.DialFailedBy {
		t.DialFailedBy[i] += s.DialFailedBy[i]
	}
	t.ReadEAGAIN += s.ReadEAGAIN
	t.WriteEAGAIN += s.WriteEAGAIN
	t.BytesIn += s.BytesIn
	t.BytesOut += s.BytesOut
	t.Wakeups += s.Wakeups
	t.Events += s.Events
	t.StaleEvents += s.StaleEvents
	t.TimersFired += s.TimersFired
	t.HighWater += s.HighWater
	t.ProxyRejected += s.ProxyRejected
	t.TLSHandshakes += s.TLSHandshakes
	t.TLSHandshakeErrors += s.TLSHandshakeErrors
}
