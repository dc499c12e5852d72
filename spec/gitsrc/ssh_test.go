package gitsrc

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshGitServer is a git server over SSH on loopback: it accepts one
// client key and runs git-upload-pack for the repository a client asks
// for, as a git host's sshd does.
type sshGitServer struct {
	addr    string
	hostKey ssh.PublicKey
}

func newSSHGitServer(t *testing.T, clientKey ssh.PublicKey) *sshGitServer {
	t.Helper()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if string(k.Marshal()) != string(clientKey.Marshal()) {
				return nil, errors.New("unknown key")
			}
			return nil, nil
		},
	}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				serveSSH(t, c, cfg)
			}()
		}
	}()
	return &sshGitServer{addr: ln.Addr().String(), hostKey: signer.PublicKey()}
}

func serveSSH(t *testing.T, c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return // a refused client
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "session only")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			return
		}
		for req := range chReqs {
			if req.Type != "exec" {
				req.Reply(false, nil)
				continue
			}
			// The payload is a string: "git-upload-pack '/path'".
			n := binary.BigEndian.Uint32(req.Payload)
			cmdline := string(req.Payload[4 : 4+n])
			name, arg, _ := strings.Cut(cmdline, " ")
			if name != "git-upload-pack" {
				req.Reply(false, nil)
				continue
			}
			req.Reply(true, nil)
			cmd := exec.Command("git", "upload-pack", strings.Trim(arg, "'"))
			cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
			status := uint32(0)
			if err := cmd.Run(); err != nil {
				status = 1
			}
			ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, status))
			ch.Close()
			break
		}
	}
}

// An SSH remote: the key from CERTCTL_GIT_SSH_KEY (a file, or the PEM
// text, with a passphrase), the host checked against
// CERTCTL_GIT_SSH_KNOWN_HOSTS; an unknown host key is refused.
func TestSourceSSH(t *testing.T) {
	r := newRemote(t)
	sha := r.push(t, "init", map[string]string{"certs/main.hcl": validConfig})

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	clientPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	srv := newSSHGitServer(t, clientPub)
	const passphrase = "correct horse battery"
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "certctl", []byte(passphrase))
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := string(pem.EncodeToMemory(block))
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(keyFile, []byte(keyPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	known := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(known, []byte(knownhosts.Line([]string{knownhosts.Normalize(srv.addr)}, srv.hostKey)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, otherPub, _ := ed25519.GenerateKey(rand.Reader)
	otherHost, _ := ssh.NewPublicKey(otherPub.Public())
	wrongKnown := filepath.Join(dir, "wrong_known_hosts")
	if err := os.WriteFile(wrongKnown, []byte(knownhosts.Line([]string{knownhosts.Normalize(srv.addr)}, otherHost)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	url := "ssh://git@" + srv.addr + r.bare
	env := func(kv map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
	}

	for name, vars := range map[string]map[string]string{
		"key file": {EnvSSHKey: keyFile, EnvSSHKeyPassphrase: passphrase, EnvSSHKnownHosts: known},
		"key text": {EnvSSHKey: keyPEM, EnvSSHKeyPassphrase: passphrase, EnvSSHKnownHosts: wrongKnown + string(filepath.ListSeparator) + known},
	} {
		t.Run(name, func(t *testing.T) {
			s := newSource(t, Options{URL: url, Ref: "main", Path: "certs", Env: env(vars)})
			if rev := fetch(t, s); rev.SHA != sha {
				t.Errorf("Fetch = %s, want %s", rev.SHA, sha)
			}
		})
	}

	t.Run("unknown host key", func(t *testing.T) {
		s := newSource(t, Options{URL: url, Ref: "main", Env: env(map[string]string{EnvSSHKey: keyPEM, EnvSSHKeyPassphrase: passphrase, EnvSSHKnownHosts: wrongKnown})})
		_, err := s.Fetch(context.Background())
		if err == nil || !strings.Contains(err.Error(), "key mismatch") || !strings.Contains(err.Error(), "fetching "+url+" (ref main)") {
			t.Errorf("Fetch with a wrong known host = %v, want a host key mismatch naming the URL", err)
		}
		for _, secret := range []string{passphrase, strings.Split(keyPEM, "\n")[1]} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows a secret: %v", err)
			}
		}
	})

	t.Run("wrong passphrase", func(t *testing.T) {
		_, err := NewSource(Options{URL: url, CacheDir: t.TempDir(), Env: env(map[string]string{EnvSSHKey: keyFile, EnvSSHKeyPassphrase: "wrong", EnvSSHKnownHosts: known})})
		if err == nil || !strings.Contains(err.Error(), EnvSSHKey) {
			t.Errorf("NewSource with a wrong passphrase = %v, want an error naming %s", err, EnvSSHKey)
		}
	})
}
