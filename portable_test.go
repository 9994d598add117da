//go:build linux

package epollnet

import (
	"errors"
	"net"
	"testing"
)

// TestPortableRefusesForeignDescriptors: on the portable backend,
// descriptors are handles of its own, so the calls that would adopt an
// operating-system descriptor fail with ErrUnsupported instead of taking
// the number for a handle; and none of them closes what it was given.
func TestPortableRefusesForeignDescriptors(t *testing.T) {
	if Backend() != "portable" {
		t.Skipf("backend %q adopts descriptors", Backend())
	}
	e := newEngine(t, Options{Loops: 1})
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	if _, err := e.ListenFrom(nl, newRecorder(), nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ListenFrom: %v, want ErrUnsupported", err)
	}
	if _, err := e.ListenFD(3, newRecorder(), nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ListenFD: %v, want ErrUnsupported", err)
	}
	sock := func(family, sotype, proto int) (int, error) {
		t.Error("DialConfig.Socket was called")
		return -1, errors.New("unreachable")
	}
	_, err = e.DialAsync("tcp", nl.Addr().String(), newRecorder(), &DialConfig{Socket: sock})
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("DialAsync with DialConfig.Socket: %v, want ErrUnsupported", err)
	}
	// The listener still works: nothing closed it.
	go func() {
		if c, err := net.Dial("tcp", nl.Addr().String()); err == nil {
			c.Close()
		}
	}()
	c, err := nl.Accept()
	if err != nil {
		t.Fatalf("the caller's listener: %v", err)
	}
	c.Close()
}

// TestPortableReusePortSharesOneListener: with ReusePort each loop binds
// the same port (on the portable backend, its handles share one
// net.Listener rather than failing with EADDRINUSE), and connections open.
func TestPortableReusePortSharesOneListener(t *testing.T) {
	e := newEngine(t, Options{Loops: 2})
	r := newRecorder()
	ln := listen(t, e, r, &ListenConfig{ReusePort: true})
	for i := 0; i < 4; i++ {
		c := dialTCP(t, ln)
		c.Write([]byte("x"))
		recv(t, r.opened, "OnOpen")
	}
}
