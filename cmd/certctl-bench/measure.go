package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// series is one measurement repeated: the wall time of each run, its CPU
// time (user + system, all threads) and, for child processes, its peak
// RSS.
type series struct {
	Name   string
	N      int // certificates
	Runs   []time.Duration
	CPU    []time.Duration
	RSSKiB []int64 // empty for in-process measurements
}

// add records a run; a negative cpu or rssKiB means not measured.
func (s *series) add(d, cpu time.Duration, rssKiB int64) {
	s.Runs = append(s.Runs, d)
	if cpu >= 0 {
		s.CPU = append(s.CPU, cpu)
	}
	if rssKiB >= 0 {
		s.RSSKiB = append(s.RSSKiB, rssKiB)
	}
}

// MinCPU is the least CPU time of any run, 0 if none was measured. CPU
// time hardly depends on how busy the machine is, so ratios of it are
// steadier than ratios of wall times.
func (s *series) MinCPU() time.Duration {
	if len(s.CPU) == 0 {
		return 0
	}
	return slices.Min(s.CPU)
}

// Best is the fastest run: on a machine shared with other work it is the
// closest to what the code itself costs.
func (s *series) Best() time.Duration {
	if len(s.Runs) == 0 {
		return 0
	}
	return slices.Min(s.Runs)
}

// Median is the middle run (the lower middle for an even count).
func (s *series) Median() time.Duration {
	if len(s.Runs) == 0 {
		return 0
	}
	r := slices.Clone(s.Runs)
	slices.Sort(r)
	return r[(len(r)-1)/2]
}

// pairedRatio is the median over runs i of s.Runs[i] / base.Runs[i], for
// series measured in turns: it compares each run with the one timed just
// before it, so that a drift in the machine's speed falls on both.
func (s *series) pairedRatio(base *series) float64 {
	n := min(len(s.Runs), len(base.Runs))
	if n == 0 {
		return 0
	}
	r := make([]float64, n)
	for i := range n {
		r[i] = float64(s.Runs[i]) / float64(base.Runs[i])
	}
	slices.Sort(r)
	return r[(n-1)/2]
}

// PeakRSSKiB is the highest peak RSS of any run, -1 if none was measured.
func (s *series) PeakRSSKiB() int64 {
	if len(s.RSSKiB) == 0 {
		return -1
	}
	return slices.Max(s.RSSKiB)
}

// runner runs the certctl binary as a child process.
type runner struct {
	bin string
	env []string
}

func newRunner(bin string) *runner {
	// A fixed state key (no key file to create) and no colour; no state
	// path or variables leaking in from the caller's environment.
	env := []string{"NO_COLOR=1", "CERTCTL_STATE_KEY=" + strings.Repeat("0", 63) + "1"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CERTCTL_") && !strings.HasPrefix(kv, "NO_COLOR=") {
			env = append(env, kv)
		}
	}
	return &runner{bin: bin, env: env}
}

// usage is what one child process cost.
type usage struct {
	wall, cpu time.Duration
	rssKiB    int64 // -1 where the OS does not say
}

// run runs `certctl -chdir dir args...` and returns its wall time (from
// start to reaped), CPU time and peak RSS, and its stdout. An exit status
// other than want is an error that quotes the end of stderr.
func (r *runner) run(dir string, want int, args ...string) (usage, []byte, error) {
	cmd := exec.Command(r.bin, append([]string{"-chdir", dir}, args...)...)
	cmd.Env = r.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return usage{}, nil, fmt.Errorf("running certctl %s: %w", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	if code != want {
		return usage{}, nil, fmt.Errorf("certctl %s in %s: exit status %d, want %d\nstderr: %s\nstdout (end): %s",
			strings.Join(args, " "), dir, code, want, tail(stderr.Bytes(), 2000), tail(stdout.Bytes(), 500))
	}
	ps := cmd.ProcessState
	return usage{wall: wall, cpu: ps.UserTime() + ps.SystemTime(), rssKiB: maxRSSKiB(ps)}, stdout.Bytes(), nil
}

// step is one timed certctl command: setup runs before it, untimed (nil
// for none); its exit status must be want and check, if set, must accept
// its stdout.
type step struct {
	dir   string
	setup func() error
	want  int
	check func(stdout []byte) error
	args  []string
}

// measure runs st reps times into a new series.
func (r *runner) measure(name string, n, reps int, st step) (*series, error) {
	s := &series{Name: name, N: n}
	for range reps {
		if err := r.measureOnce(s, st); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// measureOnce runs st once and adds the run to s.
func (r *runner) measureOnce(s *series, st step) error {
	if st.setup != nil {
		if err := st.setup(); err != nil {
			return err
		}
	}
	settle()
	u, out, err := r.run(st.dir, st.want, st.args...)
	if err != nil {
		return err
	}
	if st.check != nil {
		if err := st.check(out); err != nil {
			return fmt.Errorf("certctl %s in %s: %w", strings.Join(st.args, " "), st.dir, err)
		}
	}
	s.add(u.wall, u.cpu, u.rssKiB)
	return nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}
