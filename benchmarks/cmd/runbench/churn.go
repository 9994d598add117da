package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// The churnClient scenarios compare clients, not servers: each client in
// turn opens -c connections at a time against the C echo server, each for
// one 64-byte exchange, from -sources source addresses, and the cost
// compared is the client's CPU per connection. The clients run without
// warm-up and their CPU is the whole process's (wait4's rusage, as for
// wrk): epollnet bench has no warm-up phase and no mark where its window
// starts, so the other two are run the same way. A Go process's start and
// exit cost a few milliseconds of CPU, under 0.1% of a 5-second run.

// clientArgv returns the command line of client im against addr.
func clientArgv(o *options, sc scenario, im impl, addr string) []string {
	n, size, d := strconv.Itoa(sc.conns), strconv.Itoa(sc.size), secs(o.dur)
	switch im.name {
	case cref:
		return []string{o.bin("loadgen"), "-C", "-a", addr, "-c", n, "-s", size, "-d", d, "-w", "0",
			"-b", strconv.Itoa(o.sources)}
	case "net":
		return []string{o.bin("dialchurn"), "-a", addr, "-c", n, "-s", size, "-d", d, "-w", "0",
			"-b", strconv.Itoa(o.sources)}
	}
	argv := []string{o.bin("epollnet"), "bench", "--target", addr, "--proto", "echo", "--requests-per-conn", "1",
		"-c", n, "--size", size, "-d", o.dur.String(), "--loops", strconv.Itoa(max(o.loops, 1)),
		"--json", "--quiet", "--max-errors", "1000000000"}
	for i := 0; i < o.sources; i++ {
		argv = append(argv, "--source", fmt.Sprintf("127.0.0.%d", 2+i))
	}
	return argv
}

// benchJSON is the part of epollnet bench's JSON report read here.
type benchJSON struct {
	DurationS  float64           `json:"duration_s"`
	Requests   int64             `json:"requests"`
	Connects   int64             `json:"connects"`
	ErrorTotal int64             `json:"error_total"`
	Errors     map[string]int64  `json:"errors"`
	Samples    map[string]string `json:"error_samples"`
}

// runClientChurn runs client im against the C server srv on addr, and
// returns its connections per second and CPU per connection.
func runClientChurn(ctx context.Context, o *options, sc scenario, im impl, addr string, srv *server) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, o.dur+90*time.Second)
	defer cancel()
	argv := clientArgv(o, sc, im, addr)
	cmd := command(ctx, o, argv...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(o.procs))
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	srv0, _ := srv.cpu()
	out, werr := cmd.Output()
	srv1, _ := srv.cpu()
	var s sample
	if ps := cmd.ProcessState; ps != nil {
		s.cliNs = (ps.UserTime() + ps.SystemTime()).Nanoseconds()
	}
	s.srvNs, s.clientCost = srv1-srv0, true
	var err error
	if im.name == cref || im.name == "net" {
		err = parseChurnLines(string(out), &s)
	} else {
		err = parseBenchJSON(out, &s)
	}
	if err != nil {
		return s, fmt.Errorf("%s: %v (%v): %s", strings.Join(argv, " "), err, werr, stderr.tail())
	}
	return s, nil
}

// parseChurnLines reads loadgen -C's and dialchurn's result and verify
// lines.
func parseChurnLines(out string, s *sample) error {
	verified := false
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "result "):
			kv := keyValues(line)
			s.rate, s.secs, s.count = kv.float("rate"), kv.float("secs"), int64(kv.float("msgs"))
			s.problem = loadgenErrors(kv)
		case strings.HasPrefix(line, "verify "):
			verified = strings.HasPrefix(line, "verify ok")
			if !verified && s.problem == "" {
				s.problem = line
			}
		}
	}
	if s.secs == 0 {
		return fmt.Errorf("no result line")
	}
	if !verified && s.problem == "" {
		s.problem = "no verification"
	}
	return nil
}

// parseBenchJSON reads epollnet bench's JSON report: requests answered
// are connections completed, one request each.
func parseBenchJSON(out []byte, s *sample) error {
	var r benchJSON
	if err := json.Unmarshal(out, &r); err != nil {
		return fmt.Errorf("bench printed no JSON report: %v", err)
	}
	if r.DurationS <= 0 {
		return fmt.Errorf("bench reported a window of %v s", r.DurationS)
	}
	s.secs, s.count = r.DurationS, r.Requests
	s.rate = float64(r.Requests) / r.DurationS
	if r.ErrorTotal > 0 {
		s.problem = fmt.Sprintf("bench errors=%d %v", r.ErrorTotal, r.Samples)
		if n := r.Errors["no-local-ports"]; n > 0 {
			s.problem += fmt.Sprintf(" (%d EADDRNOTAVAIL: out of local ports; raise -sources)", n)
		}
	}
	return nil
}
