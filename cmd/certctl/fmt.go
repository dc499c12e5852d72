package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/certctl/certctl/spec"
)

func cmdFmt(e *env, args []string) int {
	fs := newFlags(e, "fmt", " [-check]")
	check := fs.Bool("check", false, "only report files that are not formatted (exit 3 if any)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	files, err := spec.ConfigFiles(e.dir)
	if err != nil {
		return e.errorf("%v", err)
	}
	unformatted := 0
	for _, path := range files {
		if strings.HasSuffix(path, ".json") {
			continue // JSON syntax has no canonical HCL layout
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(e.dir, path)
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return e.errorf("%v", err)
		}
		out := spec.Format(src)
		if bytes.Equal(src, out) {
			continue
		}
		unformatted++
		rel, _ := filepath.Rel(e.dir, path)
		fmt.Fprintln(e.stdout, rel)
		if *check {
			continue
		}
		if err := writeFileKeepMode(path, out); err != nil {
			return e.errorf("%v", err)
		}
	}
	if *check && unformatted > 0 {
		return exitFormat
	}
	return exitOK
}

// writeFileKeepMode replaces path's content atomically, keeping its mode.
func writeFileKeepMode(path string, data []byte) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".certctl-fmt-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(fi.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
