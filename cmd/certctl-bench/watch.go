package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Goals of issue 8 for certctl watch.
const (
	goalEditP99     = time.Second
	goalIdleCPU     = 0.02 // of one core
	goalIdleRSSKiB  = 150 * 1000 * 1000 / 1024
	watchEdits      = 50
	watchIdleWindow = 30 * time.Second
	watchIdleCerts  = 10_000
	watchEditCerts  = 100
)

// watchResults are the figures of benchWatch.
type watchResults struct {
	EditP50, EditP99, EditMax time.Duration
	Edits                     int
	IdleCerts                 int
	IdleWindow                time.Duration
	IdleCPU                   float64 // fraction of one core
	IdleRSSKiB                int64
	ReadyAfter                time.Duration // start to the first pass over IdleCerts
	// PassCPU is the CPU time of one pass over IdleCerts with nothing to
	// do (what every -resync costs), started by touching the state file
	// as another certctl process's write would.
	PassCPU time.Duration
}

// benchWatch measures certctl watch as a child process:
//
//  1. edit → files: a directory of watchEditCerts certificates with a file
//     target is watched; each of watchEdits edits appends a certificate
//     block to a file, and the time from the write to the new
//     certificate's files on disk is recorded (p50, p99, max);
//  2. idle: watch over watchIdleCerts certificates already applied; once
//     its first pass has logged, its CPU time and resident memory are read
//     from /proc over watchIdleWindow.
func benchWatch(ctx context.Context, o options, dir string, log io.Writer) (*watchResults, error) {
	r := newRunner(o.certctl)
	res := &watchResults{}

	// 1. Edit → files.
	editDir := filepath.Join(dir, "watch-edit")
	out := filepath.Join(editDir, "out")
	n := watchEditCerts
	if o.quick {
		n = 10
	}
	if err := writeConfig(editDir, genOptions{Certs: n, Files: 1, TargetDir: "out"}); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "watch: %d edits over %d certificates with a file target\n", watchEdits, n)
	w, err := startWatch(ctx, r, editDir)
	if err != nil {
		return nil, err
	}
	defer w.stop()
	if _, err := w.waitLog("msg=reconcile", 2*time.Minute); err != nil {
		return nil, err
	}
	var lat []time.Duration
	f, err := os.OpenFile(filepath.Join(editDir, "certs_000.hcl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	for i := range watchEdits {
		name := fmt.Sprintf("edit%03d", i)
		block := fmt.Sprintf("\ncertificate %q {\n  common_name = \"%s.example.com\"\n  issuer      = issuer.internal\n  policy      = policy.standard\n  owner       = owner.alice\n  team        = team.platform\n  targets     = [target.out]\n}\n", name, name)
		start := time.Now()
		if _, err := f.WriteString(block); err != nil {
			return nil, err
		}
		want := filepath.Join(out, name+".key")
		for {
			if _, err := os.Stat(want); err == nil {
				break
			}
			if time.Since(start) > 30*time.Second {
				return nil, fmt.Errorf("watch: %s did not appear within 30 s of the edit\n%s", want, w.logTail())
			}
			time.Sleep(2 * time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	w.stop()
	slices.Sort(lat)
	res.Edits = len(lat)
	res.EditP50 = lat[len(lat)/2]
	res.EditP99 = lat[min(len(lat)-1, (len(lat)*99+99)/100-1)]
	res.EditMax = lat[len(lat)-1]

	// 2. Idle over many applied certificates.
	idleDir := filepath.Join(dir, "watch-idle")
	res.IdleCerts = watchIdleCerts
	if o.quick {
		res.IdleCerts = 1_000
	}
	if err := writeConfig(idleDir, genOptions{Certs: res.IdleCerts, Files: 100}); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "watch: idle over %d applied certificates\n", res.IdleCerts)
	if _, _, err := r.run(idleDir, 0, "apply", "-auto-approve"); err != nil {
		return nil, err
	}
	start := time.Now()
	w, err = startWatch(ctx, r, idleDir)
	if err != nil {
		return nil, err
	}
	defer w.stop()
	if _, err := w.waitLog("msg=reconcile", 5*time.Minute); err != nil {
		return nil, err
	}
	res.ReadyAfter = time.Since(start)
	res.IdleWindow = watchIdleWindow
	if o.quick {
		res.IdleWindow = 5 * time.Second
	}
	time.Sleep(time.Second) // let the first pass's garbage go
	cpu0, err := procCPU(w.cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	select {
	case <-time.After(res.IdleWindow):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	cpu1, err := procCPU(w.cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	res.IdleCPU = (cpu1 - cpu0).Seconds() / time.Since(t0).Seconds()
	if res.IdleRSSKiB, err = procRSSKiB(w.cmd.Process.Pid); err != nil {
		return nil, err
	}

	// One pass with nothing to do: touch the state, wait for the pass.
	statePath := filepath.Join(idleDir, ".certctl", "state.db")
	now := time.Now()
	if err := os.Chtimes(statePath, now, now); err != nil {
		return nil, err
	}
	if _, err := w.waitLog("msg=reconcile", time.Minute); err != nil {
		return nil, err
	}
	time.Sleep(200 * time.Millisecond)
	cpu2, err := procCPU(w.cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	res.PassCPU = cpu2 - cpu1
	return res, nil
}

// watchProc is a running certctl watch.
type watchProc struct {
	cmd  *exec.Cmd
	logs chan string
	seen []string
	done chan struct{}
}

func startWatch(ctx context.Context, r *runner, dir string) (*watchProc, error) {
	cmd := exec.CommandContext(ctx, r.bin, "-chdir", dir, "watch", "-listen", "off", "-resync", "1h")
	cmd.Env = r.env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	w := &watchProc{cmd: cmd, logs: make(chan string, 1024), done: make(chan struct{})}
	go func() {
		defer close(w.logs)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			select {
			case w.logs <- sc.Text():
			default: // nobody is waiting: drop, keep reading
			}
		}
	}()
	return w, nil
}

// waitLog waits for a log line containing s.
func (w *watchProc) waitLog(s string, limit time.Duration) (string, error) {
	timeout := time.After(limit)
	for {
		select {
		case l, ok := <-w.logs:
			if !ok {
				return "", fmt.Errorf("watch exited before logging %q\n%s", s, w.logTail())
			}
			w.seen = append(w.seen, l)
			if strings.Contains(l, "level=ERROR") {
				return "", fmt.Errorf("watch logged an error: %s", l)
			}
			if strings.Contains(l, s) {
				return l, nil
			}
		case <-timeout:
			return "", fmt.Errorf("watch logged no %q within %s\n%s", s, limit, w.logTail())
		}
	}
}

func (w *watchProc) logTail() string {
	return strings.Join(w.seen[max(0, len(w.seen)-10):], "\n")
}

// stop sends SIGTERM and waits for the exit.
func (w *watchProc) stop() {
	select {
	case <-w.done:
		return
	default:
		close(w.done)
	}
	_ = w.cmd.Process.Signal(os.Interrupt)
	_ = w.cmd.Wait()
}

// procCPU is a process's user+system CPU time, from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("unreadable /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks, nil
}

// procRSSKiB is a process's resident set, from /proc/PID/status.
func procRSSKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

func printWatch(w io.Writer, r *watchResults) {
	verdict := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "MISSED"
	}
	fmt.Fprintf(w, "\ncertctl watch (issue 8)\n")
	fmt.Fprintf(w, "  edit → files, %d edits: p50 %s, p99 %s, max %s (goal p99 ≤ %s: %s)\n",
		r.Edits, ms(r.EditP50), ms(r.EditP99), ms(r.EditMax), goalEditP99, verdict(r.EditP99 <= goalEditP99))
	fmt.Fprintf(w, "  idle over %d certificates, %s: %.2f%% of one core (goal < %.0f%%: %s), RSS %.1f MB (goal < 150 MB: %s); first pass after %s\n",
		r.IdleCerts, r.IdleWindow, r.IdleCPU*100, goalIdleCPU*100, verdict(r.IdleCPU < goalIdleCPU),
		mb(r.IdleRSSKiB), verdict(r.IdleRSSKiB < goalIdleRSSKiB), ms(r.ReadyAfter))
	fmt.Fprintf(w, "  a pass with nothing to do over %d certificates: %s CPU, so %.2f%% of one core at the default -resync of 10m\n",
		r.IdleCerts, ms(r.PassCPU), r.PassCPU.Seconds()/600*100)
}

// runWatch is certctl-bench -watch.
func runWatch(ctx context.Context, o options, stdout, stderr io.Writer) int {
	bin, err := filepath.Abs(o.certctl)
	if err == nil {
		_, err = os.Stat(bin)
	}
	if err != nil {
		fmt.Fprintf(stderr, "certctl-bench: certctl binary: %v (run make build, or pass -certctl)\n", err)
		return 1
	}
	o.certctl = bin
	base, err := os.MkdirTemp(o.dir, "certctl-bench-watch-")
	if err != nil {
		fmt.Fprintf(stderr, "certctl-bench: %v\n", err)
		return 1
	}
	if !o.keep {
		defer os.RemoveAll(base)
	}
	res, err := benchWatch(ctx, o, base, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "certctl-bench: %v\n", err)
		return 1
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return 1
		}
		return 0
	}
	printWatch(stdout, res)
	return 0
}
