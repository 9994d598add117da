package epollnet

// fdEntry is a slot of a loop's descriptor table. gen is bumped on every
// registration and every removal and travels in epoll's data word; an event
// whose generation does not match belongs to a descriptor that was closed
// (and perhaps reused) and is dropped. A live entry with no conn is one of
// the loop's listeners (loop.lhs): there are few of them, and keeping their
// pointer out of the entry keeps every connection's slot at 16 bytes.
type fdEntry struct {
	gen  uint32
	conn *Conn
}

const (
	fdPageShift = 9
	fdPageSize  = 1 << fdPageShift // 512 entries, 8 KiB
)

// fdTable is indexed by descriptor, in pages allocated when a descriptor
// first reaches them. Growing never copies: a flat slice doubled on demand
// would leave each outgrown copy to the garbage collector, resident until
// a collection, and every idle connection pays for that in memory.
type fdTable struct {
	pages []*[fdPageSize]fdEntry
}

// get returns fd's entry, or nil if no descriptor that high was registered.
func (t *fdTable) get(fd int) *fdEntry {
	p := uint(fd) >> fdPageShift
	if p >= uint(len(t.pages)) || t.pages[p] == nil {
		return nil
	}
	return &t.pages[p][fd&(fdPageSize-1)]
}

// slot returns fd's entry, allocating its page if needed. fd must be >= 0.
func (t *fdTable) slot(fd int) *fdEntry {
	p := fd >> fdPageShift
	if p >= len(t.pages) {
		t.pages = append(t.pages, make([]*[fdPageSize]fdEntry, p+1-len(t.pages))...)
	}
	if t.pages[p] == nil {
		t.pages[p] = new([fdPageSize]fdEntry)
	}
	return &t.pages[p][fd&(fdPageSize-1)]
}

// conns calls f for every connection in the table. f may remove entries.
func (t *fdTable) conns(f func(*Conn)) {
	for _, pg := range t.pages {
		if pg == nil {
			continue
		}
		for i := range pg {
			if c := pg[i].conn; c != nil {
				f(c)
			}
		}
	}
}

// nextGen returns the generation after g, skipping 0 (never registered)
// and ^0 (the tag of the wake-up eventfd).
func nextGen(g uint32) uint32 {
	g++
	if g == 0 || g == ^uint32(0) {
		g = 1
	}
	return g
}
