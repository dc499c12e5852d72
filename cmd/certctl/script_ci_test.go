package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
	"go.yaml.in/yaml/v3"
)

func init() {
	scriptCmds["exits"] = cmdExits
	scriptCmds["cisteps"] = cmdCISteps
}

// cmdExits is `exits N PROG ARGS...`: PROG exits with status N (its
// output is the script's stdout and stderr, as for exec).
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 || neg {
		ts.Fatalf("usage: exits N PROG ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		got = exit.ExitCode()
	case err != nil:
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", strings.Join(args[1:], " "), got, want)
	}
}

// cmdCISteps is `cisteps FILE OUT JOB [STEP...]`: OUT becomes a bash script
// that runs what job JOB of the CI file FILE (relative to the repository
// root) runs: for a GitHub Actions workflow the `run` of the named steps,
// with the plain `env` values of the workflow, the job and the step; for
// a GitLab CI file the job's `script` lines, with the plain `variables`.
// Values that the CI system fills in (`${{ … }}`, CI_* variables) are left
// to the environment the test sets, and so is any variable the test set
// (a state path in the test's directory, say). Every line must succeed (set -e), as
// both systems require.
func cmdCISteps(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 || neg {
		ts.Fatalf("usage: cisteps FILE OUT JOB [STEP...]")
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", args[0]))
	ts.Check(err)
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		ts.Fatalf("%s is not valid YAML: %v", args[0], err)
	}
	var sb strings.Builder
	sb.WriteString("set -eo pipefail\n")
	exports := func(m any) {
		vars, _ := m.(map[string]any)
		for _, k := range sortedKeys(vars) {
			v := fmt.Sprint(vars[k])
			if strings.Contains(v, "${{") || ts.Getenv(k) != "" {
				continue // the CI system's value, or the test's
			}
			fmt.Fprintf(&sb, "export %s=%q\n", k, v)
		}
	}
	job, steps := args[2], args[3:]
	if jobs, ok := doc["jobs"].(map[string]any); ok { // GitHub Actions
		j, ok := jobs[job].(map[string]any)
		if !ok {
			ts.Fatalf("%s has no job %q", args[0], job)
		}
		exports(doc["env"])
		exports(j["env"])
		found := 0
		for _, s := range j["steps"].([]any) {
			step := s.(map[string]any)
			name, _ := step["name"].(string)
			run, _ := step["run"].(string)
			if !slices.Contains(steps, name) {
				continue
			}
			if run == "" {
				ts.Fatalf("step %q of job %q runs nothing", name, job)
			}
			found++
			fmt.Fprintf(&sb, "# step %s\n", name)
			exports(step["env"])
			sb.WriteString(run + "\n")
		}
		if found != len(steps) {
			ts.Fatalf("job %q of %s has %d of the steps %q", job, args[0], found, steps)
		}
	} else { // GitLab CI
		j, ok := doc[job].(map[string]any)
		if !ok {
			ts.Fatalf("%s has no job %q", args[0], job)
		}
		exports(doc["variables"])
		exports(j["variables"])
		lines, _ := j["script"].([]any)
		if len(lines) == 0 {
			ts.Fatalf("job %q of %s has no script", job, args[0])
		}
		for _, l := range lines {
			sb.WriteString(fmt.Sprint(l) + "\n")
		}
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(sb.String()), 0o644))
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
