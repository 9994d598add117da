package main

import (
	"reflect"
	"syscall"

	"github.com/tidwall/evio"
)

// evioEcho echoes with evio. evio never sets TCP_NODELAY and hides the
// descriptor, so Opened reads it from the connection by reflection and
// turns Nagle off, as every other server here has it.
func evioEcho(cfg config, errc chan<- error) error {
	var ev evio.Events
	ev.NumLoops = cfg.loops
	ev.Opened = func(c evio.Conn) (out []byte, opts evio.Options, action evio.Action) {
		if v := reflect.ValueOf(c); v.Kind() == reflect.Pointer {
			if f := v.Elem().FieldByName("fd"); f.IsValid() && f.CanInt() {
				syscall.SetsockoptInt(int(f.Int()), syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
			}
		}
		return
	}
	ev.Data = func(c evio.Conn, in []byte) (out []byte, action evio.Action) {
		return in, evio.None
	}
	return background(cfg.addr, errc, func() error { return evio.Serve(ev, "tcp://"+cfg.addr) })
}
