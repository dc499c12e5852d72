package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/certctl/certctl/spec"
	"github.com/certctl/certctl/state"
)

// The files a file target holds for a certificate, in the order they are
// digested: NAME.crt (leaf), NAME.chain.crt (issuers), NAME.fullchain.crt
// (leaf and issuers), NAME.key (private key).
var fileSuffixes = [4]string{".crt", ".chain.crt", ".fullchain.crt", ".key"}

const keyFile = 3 // index of NAME.key in fileSuffixes

// files are the contents of the four files, in fileSuffixes order.
type files [4][]byte

// digest is the files' digest as recorded in state.Deployment.FilesDigest:
// SHA-256 over each file's name suffix and SHA-256.
func (f *files) digest() string {
	h := sha256.New()
	for i, b := range f {
		sum := sha256.Sum256(b)
		h.Write([]byte(fileSuffixes[i]))
		h.Write(sum[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// targetDir is where tg writes: its dir, relative to the config's.
func targetDir(cfg *spec.Config, tg *spec.Target) string {
	if filepath.IsAbs(tg.Dir) {
		return tg.Dir
	}
	return filepath.Join(cfg.Dir, tg.Dir)
}

// Refresh reads the files of every local file target that the state says
// holds a certificate's current version, and returns their digests for
// Plan's drift check. A missing file gives the digest "" (drift). A file
// that cannot be read for another reason is left out of the result (no
// drift check for that target) and its error is joined into the returned
// error; the result is still usable. Agent targets are not read.
func Refresh(ctx context.Context, cfg *spec.Config, snap *state.Snapshot) (Observed, error) {
	obs := make(Observed)
	if snap == nil {
		return obs, nil
	}
	var errs []error
	for name, c := range cfg.Certificates {
		rec := snap.Certificates[name]
		if rec == nil || rec.Fingerprint == "" {
			continue
		}
		for _, tname := range c.Targets {
			tg := cfg.Targets[tname]
			dep, ok := rec.Deployments[tname]
			if tg == nil || tg.Agent != "" || !ok || dep.Fingerprint != rec.Fingerprint {
				continue
			}
			if err := ctx.Err(); err != nil {
				return obs, err
			}
			digest, err := readDigest(targetDir(cfg, tg), c.FileStem())
			if err != nil {
				errs = append(errs, fmt.Errorf("reading target %s for %s: %w", tname, CertAddress(name), err))
				continue
			}
			if obs[name] == nil {
				obs[name] = make(map[string]string)
			}
			obs[name][tname] = digest
		}
	}
	return obs, errors.Join(errs...)
}

// readDigest digests the four files of stem in dir, "" if one is missing.
func readDigest(dir, stem string) (string, error) {
	var f files
	for i, suffix := range fileSuffixes {
		b, err := os.ReadFile(filepath.Join(dir, stem+suffix))
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		f[i] = b
	}
	d := f.digest()
	clear(f[keyFile])
	return d, nil
}
