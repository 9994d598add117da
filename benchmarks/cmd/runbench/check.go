package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// checkEcho sends a 200 KiB pattern, more than any one read, and expects
// every byte back in order.
func checkEcho(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	msg := make([]byte, 200<<10)
	for i := range msg {
		msg[i] = byte('a' + i%23)
	}
	errc := make(chan error, 1)
	go func() { _, err := c.Write(msg); errc <- err }()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("echo: %v", err)
	}
	if err := <-errc; err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return errors.New("echo: bytes differ")
	}
	return nil
}

const checkGET = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

// checkHTTP sends two pipelined requests and a third split across two
// writes, expects three keep-alive responses with the 13-byte body, then
// sends "Connection: close" and expects a response and the server's FIN.
func checkHTTP(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	return httpExchange(c)
}

// httpExchange is checkHTTP's exchange on the connection c.
func httpExchange(c net.Conn) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, checkGET+checkGET+checkGET[:10]); err != nil {
		return err
	}
	time.Sleep(30 * time.Millisecond) // the server sees a partial request
	if _, err := io.WriteString(c, checkGET[10:]); err != nil {
		return err
	}
	br := bufio.NewReader(c)
	for i := 0; i < 3; i++ {
		if err := readResponse(br, false); err != nil {
			return fmt.Errorf("pipelined response %d: %v", i+1, err)
		}
	}
	if _, err := io.WriteString(c, strings.Replace(checkGET, "\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1)); err != nil {
		return err
	}
	if err := readResponse(br, true); err != nil {
		return fmt.Errorf("Connection: close response: %v", err)
	}
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		return fmt.Errorf("after Connection: close: read %d bytes, %v; want EOF", n, err)
	}
	return nil
}

func readResponse(br *bufio.Reader, closing bool) error {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return err
	case resp.StatusCode != 200 || string(body) != "Hello, World!" || resp.ContentLength != 13:
		return fmt.Errorf("got %d, %d-byte body %q", resp.StatusCode, resp.ContentLength, body)
	case resp.Close != closing:
		return fmt.Errorf("Connection: close announced %v, want %v", resp.Close, closing)
	}
	return nil
}
