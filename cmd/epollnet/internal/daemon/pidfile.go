// Package daemon holds what the long-running commands, serve and proxy,
// share: handing the listening sockets to a new copy of the program on
// SIGHUP (Handover; on the epoll backend only), the PID file, the
// Prometheus endpoint and the engine's counters in it, the engine's
// logger, and the --trusted flag's syntax.
package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// WritePIDFile writes this process's pid to path, atomically (a temporary
// file renamed), for systemd's PIDFile=: after a restart the service's
// main process is the new one.
func WritePIDFile(path string) error {
	if path == "" {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("--pid-file: %w", err)
	}
	return nil
}

// RemovePIDFile removes path if it still names this process: after a
// restart it names the new one.
func RemovePIDFile(path string) {
	if path == "" {
		return
	}
	if b, err := os.ReadFile(path); err == nil && string(b) == strconv.Itoa(os.Getpid())+"\n" {
		os.Remove(path)
	}
}
