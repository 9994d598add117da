package epollnet

// ListenConfig.MaxConns: a listener at its cap stops being watched, so
// connections wait in the kernel's accept queue instead of being accepted
// and refused; the first of its connections to close, on any loop, re-arms
// it.

// atCap reports whether the listener has MaxConns connections open.
func (ln *Listener) atCap() bool {
	return ln.cfg.MaxConns > 0 && ln.open.Load() >= int64(ln.cfg.MaxConns)
}

// took counts a connection accepted from ln.
func (ln *Listener) took() {
	if ln.cfg.MaxConns > 0 {
		ln.open.Add(1)
	}
}

// capListener stops watching lh at the cap. The count is checked again
// after capped is raised: a connection that closed in between either sees
// capped (and re-arms lh) or is seen here.
func (l *loop) capListener(lh *lnHandle) {
	if lh.full {
		return
	}
	lh.full = true
	lh.ln.capped.Add(1)
	l.stats.capPauses.Add(1)
	l.updateListener(lh) // already silent if paused
	if !lh.ln.atCap() {
		l.uncap(lh)
	}
}

// uncap re-arms lh once the listener is below its cap again. Loop of lh.
func (l *loop) uncap(lh *lnHandle) {
	if !lh.full || lh.ln.atCap() {
		return
	}
	lh.full = false
	lh.ln.capped.Add(-1)
	l.updateListener(lh) // if paused, resumeListener re-arms it after its retry
}

// releaseSlot counts a connection of ln gone (closed, or refused before it
// opened) and re-arms ln's handles stopped at the cap, each on its loop.
func (l *loop) releaseSlot(ln *Listener) {
	if ln == nil || ln.cfg.MaxConns <= 0 {
		return
	}
	ln.open.Add(-1)
	if ln.capped.Load() == 0 {
		return
	}
	for _, lh := range ln.handles {
		if lh.loop == l {
			l.uncap(lh)
		} else {
			lh.loop.enqueue(task{kind: taskUncap, lh: lh})
		}
	}
}
