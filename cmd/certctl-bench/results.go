package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// results is everything one run measured; it is also the -json output.
type results struct {
	Machine      machine       `json:"machine"`
	Quick        bool          `json:"quick"`
	Reps         int           `json:"reps"`
	RSAReps      int           `json:"rsa_reps"`
	Parts        []string      `json:"parts"`
	Parallelism  int           `json:"parallelism"`
	KeyAlgorithm string        `json:"key_algorithm"`
	Measurements []measurement `json:"measurements"`
	Goals        []goal        `json:"goals"`
	Derived      []derived     `json:"derived"`
}

type machine struct {
	Host             string `json:"host"`
	OS               string `json:"os"`
	Arch             string `json:"arch"`
	NumCPU           int    `json:"nproc"`
	GOMAXPROCS       int    `json:"gomaxprocs"`
	GOMAXPROCSEnv    string `json:"gomaxprocs_env,omitempty"`
	GoVersion        string `json:"go_version"`
	Certctl          string `json:"certctl"`
	CertctlVersion   string `json:"certctl_version,omitempty"`
	ScratchDir       string `json:"scratch_dir"`
	ScratchFS        string `json:"scratch_fs"`
	LoadAverageStart string `json:"load_average_start,omitempty"`
	LoadAverageEnd   string `json:"load_average_end,omitempty"`
}

// measurement is a series as reported. PeakRSSKiB is absent for
// in-process measurements.
type measurement struct {
	Name       string  `json:"name"`
	Note       string  `json:"note,omitempty"`
	Certs      int     `json:"certificates"`
	RunsNS     []int64 `json:"runs_ns"`
	BestNS     int64   `json:"best_ns"`
	MedianNS   int64   `json:"median_ns"`
	MinCPUNS   int64   `json:"min_cpu_ns,omitempty"`
	PeakRSSKiB int64   `json:"peak_rss_kib,omitempty"`
}

// goal is one goal of issue 2, judged on this run.
type goal struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Limit float64 `json:"limit"` // Value <= Limit meets the goal
	Unit  string  `json:"unit"`
	Met   bool    `json:"met"`
	Basis string  `json:"basis"`
}

// derived is a figure computed from the measurements, with no goal.
type derived struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Basis string  `json:"basis"`
}

func (r *results) add(s *series, note string) {
	m := measurement{Name: s.Name, Note: note, Certs: s.N, BestNS: int64(s.Best()), MedianNS: int64(s.Median()), MinCPUNS: int64(s.MinCPU())}
	for _, d := range s.Runs {
		m.RunsNS = append(m.RunsNS, int64(d))
	}
	if rss := s.PeakRSSKiB(); rss > 0 {
		m.PeakRSSKiB = rss
	}
	r.Measurements = append(r.Measurements, m)
}

func (r *results) goal(name string, value, limit float64, unit, basis string) {
	r.Goals = append(r.Goals, goal{Name: name, Value: value, Limit: limit, Unit: unit, Met: value <= limit, Basis: basis})
}

func (r *results) derive(name string, value float64, unit, basis string) {
	r.Derived = append(r.Derived, derived{Name: name, Value: value, Unit: unit, Basis: basis})
}

// evaluate judges the goals and derives the per-certificate figures, for
// the parts that ran.
func (r *results) evaluate(m *measured) {
	if small, large := m.plans[0], m.plans[1]; small != nil {
		r.goal(fmt.Sprintf("plan, %d certs, plain blocks: wall", large.N), secs(large.Best()), secs(goalPlanWall), "s", "best run")
		r.goal(fmt.Sprintf("plan, %d certs, plain blocks: peak RSS", large.N), mb(large.PeakRSSKiB()), mb(goalPlanRSSKiB), "MB", "highest run")
		r.goal(fmt.Sprintf("plan time %d/%d certs (linear: <= %d)", large.N, small.N, large.N/small.N),
			ratio(large.Best(), small.Best()), float64(large.N)/float64(small.N), "x", "best runs")
		r.goal(fmt.Sprintf("plan, %d certs, for_each: wall", m.planForEach.N), secs(m.planForEach.Best()), secs(goalPlanWall), "s", "best run")
		r.goal(fmt.Sprintf("plan, %d certs, for_each: peak RSS", m.planForEach.N), mb(m.planForEach.PeakRSSKiB()), mb(goalPlanRSSKiB), "MB", "highest run")
		r.derive(fmt.Sprintf("plan, %d certs, plain blocks: median wall", large.N), secs(large.Median()), "s", "median run")
		r.derive(fmt.Sprintf("plan per certificate, %d certs", large.N), float64(large.Best())/float64(large.N), "ns",
			"whole command / certificates")
		r.derive("plan per certificate, marginal", float64(large.Best()-small.Best())/float64(large.N-small.N), "ns",
			fmt.Sprintf("(t%d - t%d) / %d", large.N, small.N, large.N-small.N))
	}

	if m.applyPar != nil {
		applyPar, floorAll, floorOne, applySer := m.applyPar, m.floorAll, m.floorOne, m.applySer
		n := float64(applyPar.N)
		fixed := m.planEmpty.Best() + m.caCreate.Best()
		r.goal(fmt.Sprintf("apply/floor (all cores), -parallelism %d", r.Parallelism), applyPar.pairedRatio(floorAll), goalApplyRatio, "x",
			fmt.Sprintf("median of %d apply/floor ratios, each apply against the floor run just before it", len(applyPar.Runs)))
		r.derive(fmt.Sprintf("apply/floor (all cores), -parallelism %d: best runs", r.Parallelism), ratio(applyPar.Best(), floorAll.Best()), "x",
			"apply best / floor best")
		r.derive(fmt.Sprintf("apply/floor (all cores), -parallelism %d: medians", r.Parallelism), ratio(applyPar.Median(), floorAll.Median()), "x",
			"apply median / floor median")
		r.derive(fmt.Sprintf("apply/floor (all cores), -parallelism %d: net of fixed cost", r.Parallelism), ratio(applyPar.Best()-fixed, floorAll.Best()), "x",
			fmt.Sprintf("(apply - fixed %s) / floor, best runs", ms(fixed)))
		r.derive("apply fixed cost", float64(fixed)/1e6, "ms",
			fmt.Sprintf("plan on empty state %s + CA creation %s (validate alone: %s)", ms(m.planEmpty.Best()), ms(m.caCreate.Best()), ms(m.validate.Best())))
		r.derive("floor: one core / all cores", ratio(floorOne.Best(), floorAll.Best()), "x", "best runs: how well the floor itself scales")
		r.derive(fmt.Sprintf("apply/floor CPU time, -parallelism %d", r.Parallelism), ratio(applyPar.MinCPU(), floorAll.MinCPU()), "x",
			"user+system, least of the runs; steadier than wall on a busy machine")
		r.derive(fmt.Sprintf("apply CPU beyond the floor, -parallelism %d", r.Parallelism), float64(applyPar.MinCPU()-floorAll.MinCPU())/n/1e3, "us",
			fmt.Sprintf("per certificate; plan on an empty state alone uses %s CPU", ms(m.planEmpty.MinCPU())))
		r.derive("apply/floor (one core), -parallelism 1", applySer.pairedRatio(floorOne), "x", "median of paired ratios, serial both")
		r.derive(fmt.Sprintf("apply per certificate, -parallelism %d", r.Parallelism), float64(applyPar.Best()-fixed)/n/1e3, "us", "net of fixed cost")
		r.derive(fmt.Sprintf("floor per certificate, %s", plural(r.Machine.GOMAXPROCS, "worker")), float64(floorAll.Best())/n/1e3, "us", "")
		r.derive("floor per certificate, 1 worker", float64(floorOne.Best())/n/1e3, "us", "")
		r.derive("file target: extra wall per certificate", float64(m.applyFT.Best()-applyPar.Best())/n/1e3, "us",
			fmt.Sprintf("(apply with target %s - without %s) / %d", ms(m.applyFT.Best()), ms(applyPar.Best()), applyPar.N))
		r.derive("file target: extra CPU per certificate", float64(m.applyFT.MinCPU()-applyPar.MinCPU())/n/1e3, "us",
			"user+system, mostly kernel: 4 x (create temp, write, fsync, rename) + dir fsync")
	}

	if m.applyRSA != nil {
		r.goal(fmt.Sprintf("%s apply/keygen floor (>= %.0f%% of its throughput)", rsaKeyAlgorithm, goalRSAThroughput*100),
			m.applyRSA.pairedRatio(m.keygenRSA), 1/goalRSAThroughput, "x",
			fmt.Sprintf("median of %d paired ratios", len(m.applyRSA.Runs)))
		n := float64(m.applyRSA.N)
		r.derive(fmt.Sprintf("%s apply: certificates per second", rsaKeyAlgorithm), n/m.applyRSA.Median().Seconds(), "/s", "median run")
		r.derive(fmt.Sprintf("%s keygen floor: keys per second", rsaKeyAlgorithm), n/m.keygenRSA.Median().Seconds(), "/s", "median run")
	}
}

func printText(w io.Writer, r *results) {
	m := r.Machine
	fmt.Fprintf(w, "certctl-bench  %s  %s/%s  nproc=%d GOMAXPROCS=%d", m.CertctlVersion, m.OS, m.Arch, m.NumCPU, m.GOMAXPROCS)
	if m.GOMAXPROCSEnv != "" {
		fmt.Fprintf(w, " (env GOMAXPROCS=%s)", m.GOMAXPROCSEnv)
	}
	fmt.Fprintf(w, "  %s  host %s\n", m.GoVersion, m.Host)
	fmt.Fprintf(w, "load average: %s at start, %s at end   scratch: %s (%s)\n", m.LoadAverageStart, m.LoadAverageEnd, m.ScratchDir, m.ScratchFS)
	fmt.Fprintf(w, "parts: %s; %d runs each (%d of the apply/floor pair, %d of the rsa pair); BEST = fastest run, MEDIAN = middle run, CPU = least user+system time of a run, PEAK RSS = highest run (child processes only)\n", strings.Join(r.Parts, ", "), r.Reps, 2*r.Reps, r.RSAReps)
	fmt.Fprintf(w, "certificates: %s leaves (and %s in the rsa part), %s local CA; each apply is timed right after its floor\n", r.KeyAlgorithm, rsaKeyAlgorithm, r.KeyAlgorithm)
	if r.Quick {
		fmt.Fprintln(w, "QUICK RUN: reduced sizes; the goals below are the issue's thresholds applied to smaller inputs")
	}

	fmt.Fprintln(w)
	// Names and notes left-aligned, numbers right-aligned in fixed widths.
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "MEASUREMENT\t%6s\t%10s\t%10s\t%10s\t%9s\tNOTE\n", "CERTS", "BEST", "MEDIAN", "CPU", "PEAK RSS")
	for _, x := range r.Measurements {
		rss := "-"
		if x.PeakRSSKiB > 0 {
			rss = fmt.Sprintf("%.1f MB", mb(x.PeakRSSKiB))
		}
		cpu := "-"
		if x.MinCPUNS > 0 {
			cpu = ms(time.Duration(x.MinCPUNS))
		}
		fmt.Fprintf(tw, "%s\t%6d\t%10s\t%10s\t%10s\t%9s\t%s\n", x.Name, x.Certs, ms(time.Duration(x.BestNS)), ms(time.Duration(x.MedianNS)), cpu, rss, x.Note)
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GOAL\tVALUE\tLIMIT\tRESULT\tBASIS")
	for _, g := range r.Goals {
		result := "ok"
		if !g.Met {
			result = "MISSED"
		}
		fmt.Fprintf(tw, "%s\t%s\t<= %s\t%s\t%s\n", g.Name, num(g.Value, g.Unit), num(g.Limit, g.Unit), result, g.Basis)
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DERIVED (no goal)\tVALUE\tBASIS")
	for _, d := range r.Derived {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", d.Name, num(d.Value, d.Unit), d.Basis)
	}
	tw.Flush()

	missed := 0
	for _, g := range r.Goals {
		if !g.Met {
			missed++
		}
	}
	fmt.Fprintln(w)
	if missed > 0 {
		fmt.Fprintf(w, "MISSED: %d of %d goals\n", missed, len(r.Goals))
	} else {
		fmt.Fprintf(w, "all %d goals met\n", len(r.Goals))
	}
}

func secs(d time.Duration) float64 { return d.Seconds() }

func mb(kib int64) float64 { return float64(kib) * 1024 / 1e6 }

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func num(v float64, unit string) string {
	switch unit {
	case "x":
		return fmt.Sprintf("%.2fx", v)
	case "s":
		return fmt.Sprintf("%.3f s", v)
	case "ns":
		return fmt.Sprintf("%s ns", thousands(int64(v)))
	}
	return strings.TrimSpace(fmt.Sprintf("%.1f %s", v, unit))
}

// thousands formats n with commas.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
