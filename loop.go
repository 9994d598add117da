package epollnet

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/epollnet/epollnet/internal/poller"
	"github.com/epollnet/epollnet/internal/sys"
)

// task is work queued for a loop by other goroutines (or by the loop itself,
// so that callbacks never run inside the caller's call). Work that can be
// frequent (a connection's requests, Write's wait for EPOLLOUT, a Timer's
// reset, a connection or dial handed to its loop, a listener re-armed below
// MaxConns) has a kind of its own and travels as a value, so that queuing
// it allocates nothing (TestQueuingLoopRequestsAllocatesNothing). Anything
// else (listeners coming and going, shutdown, a canceled or resolved dial,
// a timeout setter) is a closure, taskFunc, queued with post.
type task struct {
	kind taskKind
	c    *Conn     // the connection of every kind but taskFunc, taskTimer and taskUncap
	lh   *lnHandle // taskUncap
	t    *Timer    // taskTimer
	when int64     // taskTimer: the deadline, on the loop clock
	err  error     // taskAbort: the reason, if not ErrAborted
	fn   func()    // taskFunc
}

type taskKind uint8

const (
	taskFunc       taskKind = iota // run fn
	taskTimer                      // schedule t at when
	taskAdopt                      // open c, accepted by another loop
	taskDial                       // start dialing c
	taskUncap                      // re-arm lh, below its MaxConns again
	taskArmOut                     // c has output pending: wait for EPOLLOUT
	taskClose                      // Conn.Close
	taskCloseWrite                 // Conn.CloseWrite
	taskAbort                      // Conn.Abort, or a failed Write
	taskPauseRead                  // Conn.PauseRead
	taskResumeRead                 // Conn.ResumeRead
)

// loop is one event loop: a goroutine that owns an epoll instance, the table
// of the descriptors registered in it, its timers and a task queue. Only the
// loop goroutine touches the fields above mu.
type loop struct {
	id     int
	eng    *Engine
	opts   *Options
	p      *poller.Poller
	fds    fdTable
	buf    []byte
	tlsBuf []byte // decrypted input, allocated by the first TLS read (tlsBuffer)
	iov    sys.Iovecs
	sa     sys.Sockaddr // accept4's peer address, reused
	timers timerHeap
	sweep  idleSweep // the engine-wide idle and read timeouts (timeout_sweep.go)
	now    int64
	lhs    []*lnHandle
	// again holds the connections to handle as readable next round, and
	// againSpare the other buffer (readAgain).
	again, againSpare []*Conn
	conns             int // open connections, loop-owned
	stop              bool
	// nextLog is when logRare may log again.
	nextLog int64

	mu      sync.Mutex
	closed  bool // set by teardown: enqueue refuses further tasks
	tasks   []task
	running []task
	pending atomic.Int32

	nconns atomic.Int64 // mirror of conns, for LeastConnections and Stats
	nowA   atomic.Int64 // mirror of now, for Conn.LoopTime off the loop
	// wallOff is the wall clock minus the loop clock, in nanoseconds,
	// re-read at wallAt (tick) for Conn.LoopTime.
	wallOff atomic.Int64
	wallAt  int64
	stats   loopStats
	done    chan struct{}
}

func newLoop(e *Engine, id int) (*loop, error) {
	p, err := poller.New(e.opts.MaxEvents)
	if err != nil {
		return nil, err
	}
	l := &loop{
		id:   id,
		eng:  e,
		opts: &e.opts,
		p:    p,
		buf:  make([]byte, e.opts.ReadBufferSize),
		done: make(chan struct{}),
	}
	l.initSweep()
	return l, nil
}

// post queues f to run on the loop; see enqueue.
func (l *loop) post(f func()) bool { return l.enqueue(task{kind: taskFunc, fn: f}) }

// enqueue hands t to the loop and wakes it if it sleeps. The pending flag is
// stored after the task is queued and the loop checks it after announcing
// sleep, so a wake-up can never be lost (see poller.PrepareSleep).
// It reports false, dropping t, once the loop has stopped.
func (l *loop) enqueue(t task) bool {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return false
	}
	l.tasks = append(l.tasks, t)
	l.mu.Unlock()
	l.pending.Store(1)
	l.p.Wake()
	return true
}

func (l *loop) run() {
	defer close(l.done)
	if l.opts.LockOSThread {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	l.tick()
	for !l.stop {
		n, err := l.poll()
		l.tick()
		if err != nil {
			// epoll_wait fails only with EBADF, EFAULT or EINVAL: the
			// instance is unusable, so fail every connection rather than spin.
			l.eng.loopFailed(l, err)
			l.abortAll(err)
			break
		}
		l.stats.wakeups.Add(1)
		l.stats.events.Add(uint64(n))
		l.runAgain()
		for i := 0; i < n; i++ {
			l.handle(l.p.Event(i))
		}
		l.runTasks()
		l.runTimers()
	}
	l.teardown()
}

// tick reads the loop clock for a new round: the monotonic clock every
// round, the wall clock (for Conn.LoopTime) at most a second apart.
func (l *loop) tick() {
	l.now = l.eng.clock()
	if l.now >= l.wallAt {
		l.wallOff.Store(time.Now().UnixNano() - l.now)
		l.wallAt = l.now + int64(time.Second)
	}
	l.nowA.Store(l.now)
}

// poll returns ready events, parking in Wait until an event, a wake-up or
// the next timer when there is nothing to do.
func (l *loop) poll() (int, error) {
	if l.pending.Load() != 0 || l.nextTimer() == 0 || len(l.again) > 0 {
		return l.p.Poll()
	}
	l.p.PrepareSleep()
	if l.pending.Load() != 0 {
		return l.p.Poll()
	}
	// Wait polls once more before it parks, so a busy loop never parks and
	// an idle one makes one epoll_wait(0) before the runtime's blocking one.
	return l.p.Wait(time.Duration(l.nextTimer()))
}

// handle routes one event to its connection or listener, unless it is stale.
func (l *loop) handle(tag poller.Tag, ev poller.Events) {
	fd := int(tag.FD)
	if fd < 0 {
		return // the wake-up eventfd, already drained
	}
	e := l.fds.get(fd)
	if e == nil || e.gen != tag.Gen {
		// Closed, perhaps earlier in this batch: its events are dropped.
		l.stats.stale.Add(1)
		return
	}
	if e.conn != nil {
		l.trace(TraceReady, fd, e.conn, 0, ev, 0, nil)
		l.connEvent(e.conn, ev)
		return
	}
	for _, lh := range l.lhs {
		if lh.fd == fd {
			l.trace(TraceReady, fd, nil, RoleListener, ev, 0, nil)
			l.acceptEvent(lh)
			return
		}
	}
	l.stats.stale.Add(1)
}

// runTasks runs the queued tasks, if any were announced: enqueue sets
// pending after queuing, so a task that misses this check is picked up on
// the next round (poll does not sleep while pending is set), and an idle
// round costs no lock.
func (l *loop) runTasks() {
	if l.pending.Load() == 0 {
		return
	}
	l.drainTasks()
}

// drainTasks runs every queued task, announced or not (teardown: an enqueue
// may have queued its task and not yet set pending).
func (l *loop) drainTasks() {
	l.pending.Store(0)
	l.mu.Lock()
	l.tasks, l.running = l.running[:0], l.tasks
	l.mu.Unlock()
	for i := range l.running {
		l.exec(&l.running[i])
		l.running[i] = task{}
	}
	// A burst (thousands of connections handed over at once) grows the
	// queue; once the load is a fraction of it again, let it go rather
	// than keep its capacity, tens of bytes per connection of the burst,
	// for the loop's life.
	if n := len(l.running); cap(l.running) > 1024 && n < cap(l.running)/8 {
		l.running = nil
	}
}

func (l *loop) exec(t *task) {
	switch t.kind {
	case taskFunc:
		t.fn()
	case taskTimer:
		l.timers.schedule(&t.t.e, t.when)
	case taskAdopt:
		l.adopt(t.c)
	case taskDial:
		l.startDial(t.c)
	case taskUncap:
		l.uncap(t.lh)
	default:
		l.connTask(t.kind, t.c, t.err)
	}
}

// connTask runs a request that a Conn method queued for the loop.
func (l *loop) connTask(kind taskKind, c *Conn, err error) {
	if c.state == stateClosed {
		return
	}
	switch kind {
	case taskArmOut:
		c.mu.Lock()
		c.mf.clr(mArmQueued)
		pending := c.pending() > 0
		c.mu.Unlock()
		if pending && !c.lf.has(lWantOut) {
			l.armOut(c)
		}
	case taskClose:
		l.closeGraceful(c, nil)
	case taskCloseWrite:
		c.lf.set(lShutWr)
		// While connecting, shutdown(2) would abort the connect (or hit fd
		// -1 while resolving); connected() shuts down once open.
		if !c.lf.has(lWantOut) && c.state == stateOpen {
			l.shutdownWrite(c)
		}
	case taskAbort:
		if err == nil {
			err = ErrAborted
		}
		l.abort(c, err)
	case taskPauseRead:
		c.lf.set(lPaused)
		c.reqs.Or(reqPause) // the last task run decides, whatever the callers' race
		l.updateInterest(c)
	case taskResumeRead:
		c.reqs.And(^reqPause)
		l.resume(c)
	}
}

// nextTimer returns nanoseconds until the earliest timer, 0 if one is due,
// or -1 if there is none.
func (l *loop) nextTimer() int64 {
	if len(l.timers) == 0 {
		return -1
	}
	return max(l.timers[0].when-l.eng.clock(), 0)
}

func (l *loop) runTimers() {
	for len(l.timers) > 0 && l.timers[0].when <= l.now {
		e := l.timers[0]
		l.timers.remove(e)
		l.stats.timers.Add(1)
		e.owner.fire(l)
	}
}

func (l *loop) teardown() {
	for _, lh := range l.lhs {
		l.closeListenerFD(lh)
	}
	l.lhs = nil
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	// Run what was queued before the door closed: with l.stop set, adopted
	// descriptors are closed, dials fail and listeners are released.
	l.drainTasks()
	l.abortAll(ErrEngineShutdown)
	l.p.Close()
}

// adopt registers an accepted connection (dispatchAccepted) on this loop.
func (l *loop) adopt(c *Conn) {
	ln := c.src.ln
	if l.stop || l.eng.closing.Load() {
		sys.Close(c.fd)
		l.releaseSlot(ln)
		return
	}
	if ln.proxy != nil && !ln.proxy.admit(l, c) {
		l.releaseSlot(ln)
		return // an untrusted source, refused
	}
	if ln.network != "unix" && !l.opts.TCPNagle {
		sys.SetNoDelay(c.fd, true)
	}
	if err := l.open(c); err != nil {
		sys.Close(c.fd)
		l.releaseSlot(ln)
		l.reportAcceptError(err)
	}
}

// open registers c and calls its handler's OnOpen (a proxyLayer's, which
// waits for the header first). EPOLL_CTL_ADD reports the socket's current
// state, so data, a FIN or an RST that arrived before accept are seen at
// the next wait (see docs/kernel.md, "EPOLL_CTL_ADD reports current
// readiness").
func (l *loop) open(c *Conn) error {
	want := c.readInterest()
	gen, err := l.register(c.fd, c, want)
	if err != nil {
		return err
	}
	c.gen, c.interest = gen, want
	c.state = stateOpen
	c.mu.Lock()
	c.mf.set(mReady)
	c.mu.Unlock()
	c.touchRead(l.now)
	l.conns++
	l.nconns.Add(1)
	l.stats.opened.Add(1)
	l.armDeadline(c)
	l.trace(TraceOpen, c.fd, c, 0, 0, 0, nil)
	c.src.h.OnOpen(c)
	return nil
}

func (l *loop) shutdownConns() {
	l.failResolving(ErrEngineShutdown) // dials without a descriptor yet
	l.fds.conns(func(c *Conn) {
		switch {
		case c.state == stateConnecting:
			l.dialFailed(c, ErrEngineShutdown)
		case c.state == stateOpen:
			if t := c.tlsLayer(); t != nil && t.shutdown(l, c) {
				return // closed during its handshake
			}
			c.markWriteClosed()
			l.closeGraceful(c, ErrEngineShutdown)
		}
	})
	l.eng.checkDrained()
}

func (l *loop) abortAll(reason error) {
	l.failResolving(reason)
	l.fds.conns(func(c *Conn) { l.abort(c, reason) })
}
