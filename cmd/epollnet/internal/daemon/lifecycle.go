package daemon

import (
	"os"

	"github.com/epollnet/epollnet/cmd/epollnet/internal/promtext"
)

// Paths are the Unix socket paths a command must remove at its final
// exit: those it created, and those it inherited from the previous
// process once it is ready (until then that process serves them, and a
// failed start must leave them). Not after a restart: the new process
// serves them.
type Paths struct {
	unlink []string
	adopt  []string
}

// Track records a socket that Handover.Socket returned and returns its
// origin for the command's start line: "inherited" or "" for a new one.
func (ps *Paths) Track(network, address string, inherited bool) string {
	switch {
	case inherited && network == "unix":
		ps.adopt = append(ps.adopt, address)
	case network == "unix":
		ps.unlink = append(ps.unlink, address)
	}
	if inherited {
		return "inherited"
	}
	return ""
}

// Remove removes the paths.
func (ps *Paths) Remove() {
	for _, p := range ps.unlink {
		os.Remove(p)
	}
}

// Service is what a long-running command's start and end need to know.
type Service struct {
	Handover *Handover
	Paths    *Paths
	Metrics  string // --metrics, "" for none
	PIDFile  string // --pid-file, "" for none
}

// Start finishes a command's start once its listeners serve: the metrics
// endpoint (with families), readiness to the previous process, which then
// stops accepting, the inherited paths adopted, the PID file. On an error
// the endpoint is closed; the caller stops its engine and calls
// Paths.Remove.
func (s Service) Start(families func() []promtext.Family) (*MetricsServer, error) {
	var m *MetricsServer
	var err error
	if s.Metrics != "" {
		m, err = StartMetrics(s.Handover, s.Metrics, families)
	}
	if err == nil {
		err = s.Handover.Ready()
	}
	if err == nil {
		s.Paths.unlink = append(s.Paths.unlink, s.Paths.adopt...)
		err = WritePIDFile(s.PIDFile)
	}
	if err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// Finish removes the socket paths and the PID file at the final exit,
// unless a new process took over.
func (s Service) Finish() {
	if !s.Handover.HandedOver() {
		s.Paths.Remove()
		RemovePIDFile(s.PIDFile)
	}
}
