//go:build !linux

package poller

import (
	"time"

	"github.com/epollnet/epollnet/internal/sys"
)

// Poller is unavailable off Linux; New always fails.
type Poller struct{}

// New reports that the platform is unsupported.
func New(maxEvents int) (*Poller, error) { return nil, sys.ErrUnsupported }

// Add is never reached off Linux.
func (p *Poller) Add(fd int, gen uint32, interest Events) error { return sys.ErrUnsupported }

// Mod is never reached off Linux.
func (p *Poller) Mod(fd int, gen uint32, interest Events) error { return sys.ErrUnsupported }

// Del is never reached off Linux.
func (p *Poller) Del(fd int) error { return sys.ErrUnsupported }

// PrepareSleep is never reached off Linux.
func (p *Poller) PrepareSleep() {}

// Wait is never reached off Linux.
func (p *Poller) Wait(timeout time.Duration) (int, error) { return 0, sys.ErrUnsupported }

// Poll is never reached off Linux.
func (p *Poller) Poll() (int, error) { return 0, sys.ErrUnsupported }

// Event is never reached off Linux.
func (p *Poller) Event(i int) (Tag, Events) { return Tag{FD: -1}, 0 }

// Wake is never reached off Linux.
func (p *Poller) Wake() error { return sys.ErrUnsupported }

// Close is never reached off Linux.
func (p *Poller) Close() error { return sys.ErrUnsupported }
