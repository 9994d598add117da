package main

import (
	"fmt"
	"net"
	"time"
)

// waitListening returns once addr accepts a TCP connection, for the
// libraries whose serve call blocks and says nothing when it is ready.
func waitListening(addr string, errc <-chan error) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-errc:
			return fmt.Errorf("server stopped: %v", err)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s not accepting after 10s", addr)
}

// background runs a blocking serve call and reports its result on errc;
// it returns once the address accepts connections.
func background(addr string, errc chan<- error, serve func() error) error {
	done := make(chan error, 1)
	go func() { done <- serve() }()
	if err := waitListening(addr, done); err != nil {
		return err
	}
	go func() { errc <- <-done }()
	return nil
}
