package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/certctl/certctl/spec"
)

// TestRenderConfig checks the generated configurations: the requested
// number of certificates, spread evenly over the requested files, and a
// configuration that certctl's own loader accepts as written.
func TestRenderConfig(t *testing.T) {
	certBlock := regexp.MustCompile(`(?m)^certificate "(h\d{5})" \{$`)
	anyBlock := regexp.MustCompile(`(?m)^certificate "`)
	for _, tc := range []struct {
		certs, files    int
		target, forEach bool
	}{
		{1, 1, false, false},
		{7, 3, false, false},
		{100, 10, true, false},
		{1000, 10, false, false},
		{7, 3, false, true},
		{250, 4, true, true},
	} {
		t.Run(fmt.Sprintf("%d/%d/target=%t/for_each=%t", tc.certs, tc.files, tc.target, tc.forEach), func(t *testing.T) {
			dir := t.TempDir()
			o := genOptions{Certs: tc.certs, Files: tc.files, ForEach: tc.forEach}
			if tc.target {
				o.TargetDir = filepath.Join(dir, "out")
			}
			files, err := renderConfig(o)
			if err != nil {
				t.Fatalf("renderConfig(%+v) error: %v", o, err)
			}
			if got, want := len(files), tc.files+1; got != want {
				t.Fatalf("renderConfig(%+v) = %d files, want %d", o, got, want)
			}
			seen := make(map[string]bool)
			for f := range tc.files {
				data := files[fmt.Sprintf("certs_%03d.hcl", f)]
				if tc.forEach {
					if n := len(anyBlock.FindAll(data, -1)); n != 1 || !bytes.Contains(data, []byte("for_each")) {
						t.Errorf("certs_%03d.hcl has %d certificate blocks, want 1 with for_each", f, n)
					}
					continue
				}
				blocks := certBlock.FindAllSubmatch(data, -1)
				if lo, hi := tc.certs/tc.files, (tc.certs+tc.files-1)/tc.files; len(blocks) < lo || len(blocks) > hi {
					t.Errorf("certs_%03d.hcl has %d certificates, want %d to %d", f, len(blocks), lo, hi)
				}
				for _, m := range blocks {
					if seen[string(m[1])] {
						t.Errorf("certificate %s generated twice", m[1])
					}
					seen[string(m[1])] = true
				}
				if got, want := bytes.Contains(data, []byte("targets")), tc.target; got != want {
					t.Errorf("certs_%03d.hcl mentions targets: %t, want %t", f, got, want)
				}
			}
			if !tc.forEach && len(seen) != tc.certs {
				t.Errorf("generated %d distinct certificates, want %d", len(seen), tc.certs)
			}

			if err := writeConfig(dir, o); err != nil {
				t.Fatal(err)
			}
			cfg, parser, diags := spec.Load(dir)
			if diags.HasErrors() {
				var b strings.Builder
				_ = parser.WriteDiagnostics(&b, diags, false)
				t.Fatalf("spec.Load(generated config) failed:\n%s", b.String())
			}
			if got := len(cfg.Certificates); got != tc.certs {
				t.Errorf("spec.Load(generated config) has %d certificates, want %d", got, tc.certs)
			}
			lastName := certName(tc.certs - 1)
			if tc.forEach {
				lastName = forEachName(tc.files-1, tc.certs-1)
			}
			last := cfg.Certificates[lastName]
			if last == nil {
				t.Fatalf("spec.Load(generated config) lacks %s", lastName)
			}
			if want := certName(tc.certs-1) + ".example.com"; last.CommonName != want {
				t.Errorf("%s: common_name = %q, want %q", last.Name, last.CommonName, want)
			}
			if last.KeyAlgorithm != "ecdsa-p256" {
				t.Errorf("%s: key algorithm = %q, want ecdsa-p256", last.Name, last.KeyAlgorithm)
			}
			if got, want := len(last.Targets), map[bool]int{false: 0, true: 1}[tc.target]; got != want {
				t.Errorf("%s: %d targets, want %d", last.Name, got, want)
			}
		})
	}
}

func TestRenderConfigRejects(t *testing.T) {
	for _, o := range []genOptions{{Certs: 10, Files: 0}, {Certs: 2, Files: 3}, {Certs: -1, Files: 1}} {
		if _, err := renderConfig(o); err == nil {
			t.Errorf("renderConfig(%+v) succeeded, want an error", o)
		}
	}
}

func TestSeries(t *testing.T) {
	s := &series{}
	if s.Best() != 0 || s.Median() != 0 || s.PeakRSSKiB() != -1 {
		t.Errorf("empty series: Best %v, Median %v, PeakRSSKiB %d; want 0, 0, -1", s.Best(), s.Median(), s.PeakRSSKiB())
	}
	for i, d := range []time.Duration{5, 1, 4, 2} {
		s.add(d, d*10, int64(100*i))
	}
	s.add(3, 7, -1) // an in-process run has no RSS
	if got, want := s.Best(), time.Duration(1); got != want {
		t.Errorf("Best() = %v, want %v", got, want)
	}
	if got, want := s.Median(), time.Duration(3); got != want {
		t.Errorf("Median() = %v, want %v", got, want)
	}
	if got, want := s.PeakRSSKiB(), int64(300); got != want {
		t.Errorf("PeakRSSKiB() = %d, want %d", got, want)
	}
	if got, want := s.MinCPU(), time.Duration(7); got != want {
		t.Errorf("MinCPU() = %v, want %v", got, want)
	}
}

func TestCryptoFloor(t *testing.T) {
	ca, _, err := newBaselineCA("ecdsa-p256")
	if err != nil {
		t.Fatal(err)
	}
	for _, work := range []floorWork{floorIssue, floorKeygen} {
		for _, workers := range []int{1, 3} {
			if d, cpu, err := cryptoFloor(ca, "ecdsa-p256", work, 5, workers); err != nil || d <= 0 || cpu <= 0 {
				t.Errorf("cryptoFloor(%d, 5, %d workers) = %v, %v, %v; want durations", work, workers, d, cpu, err)
			}
		}
	}
	if _, _, err := cryptoFloor(ca, "no-such-alg", floorIssue, 3, 2); err == nil {
		t.Error("cryptoFloor with an unknown key algorithm succeeded, want an error")
	}
}

// The floor signs what certctl signs: a leaf that verifies against the
// CA, for the names of the generated configs.
func TestFloorLeaf(t *testing.T) {
	ca, _, err := newBaselineCA("ecdsa-p256")
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{"ecdsa-p256", "rsa-2048"} {
		der, err := floorSign(ca, alg, 7, time.Now())
		if err != nil {
			t.Fatalf("floorSign(%s): %v", alg, err)
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := leaf.CheckSignatureFrom(ca.cert); err != nil || leaf.DNSNames[0] != certName(7)+".example.com" {
			t.Errorf("%s floor leaf: signature %v, names %q", alg, err, leaf.DNSNames)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 123456789: "123,456,789", -4500: "-4,500"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestRunErrors checks that bad flags and a missing binary are harness
// errors, with their exit statuses.
func TestRunErrors(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-reps", "0"}, &out, &errb); code != 2 {
		t.Errorf("run(-reps 0) = %d, want 2", code)
	}
	if code := run([]string{"-only", "plan,sign"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `"sign"`) {
		t.Errorf("run(-only plan,sign) = %d, stderr %q; want 2 and the unknown part named", code, errb.String())
	}
	errb.Reset()
	missing := filepath.Join(t.TempDir(), "nope")
	if code := run([]string{"-certctl", missing, "-quick"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "certctl binary") {
		t.Errorf("run(-certctl missing) = %d, stderr %q; want 1 and a message about the binary", code, errb.String())
	}
}

// TestRunTiny runs the whole harness, on tiny sizes, against a certctl
// built from this checkout: it breaks when certctl's output changes in a
// way the harness relies on (summary lines, exit codes), which `make
// bench` alone, run by hand, would find late.
func TestRunTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("builds certctl; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "certctl")
	build := exec.Command("go", "build", "-o", bin, "github.com/certctl/certctl/cmd/certctl")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build certctl: %v\n%s", err, out)
	}
	saved := quickSizes
	t.Cleanup(func() { quickSizes = saved })
	quickSizes = sizes{planSmall: 4, planSmallFiles: 2, planLarge: 8, planLargeFiles: 2, apply: 5, applyFiles: 2, rsa: 2}

	var out, errb bytes.Buffer
	if code := run([]string{"-certctl", bin, "-quick", "-reps", "1", "-rsa-reps", "1", "-json", "-dir", t.TempDir()}, &out, &errb); code != 0 {
		t.Fatalf("run(-quick -json) = %d, want 0; stderr:\n%s", code, errb.String())
	}
	var res results
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("run(-json) output does not parse: %v\n%s", err, out.String())
	}
	if len(res.Measurements) != 16 || len(res.Goals) != 7 {
		t.Errorf("run(-json) = %d measurements and %d goals, want 16 and 7", len(res.Measurements), len(res.Goals))
	}
	for _, m := range res.Measurements {
		if m.BestNS <= 0 || len(m.RunsNS) == 0 {
			t.Errorf("measurement %q: best %d ns over %d runs, want a time", m.Name, m.BestNS, len(m.RunsNS))
		}
		if strings.HasPrefix(m.Name, "plan") && m.PeakRSSKiB <= 0 && runtime.GOOS == "linux" {
			t.Errorf("measurement %q has no peak RSS", m.Name)
		}
	}

	out.Reset()
	if code := run([]string{"-certctl", bin, "-quick", "-reps", "1", "-only", "apply", "-dir", t.TempDir()}, &out, &errb); code != 0 {
		t.Fatalf("run(-quick -only apply) = %d, want 0; stderr:\n%s", code, errb.String())
	}
	if strings.Contains(out.String(), "plan, state fully applied") || strings.Contains(out.String(), "rsa-2048 keygen") {
		t.Errorf("run(-only apply) ran other parts:\n%s", out.String())
	}
	for _, want := range []string{"nproc=", "GOMAXPROCS=", "load average", "MEASUREMENT", "GOAL", "apply/floor (all cores)", "crypto floor, in-process, 1 worker", "file target: extra wall per certificate"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("run(-quick) output lacks %q:\n%s", want, out.String())
		}
	}
}
