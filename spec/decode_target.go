package spec

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// decodeAgentBlock decodes `agent "NAME" {}`. The token hash may come from
// env() or file(); sha256(env("TOKEN")) works too.
func (l *loader) decodeAgentBlock(blk *hcl.Block) {
	name, ok := declare(l, "agent", blk, l.cfg.Agents)
	if !ok {
		return
	}
	ag := &Agent{Name: name, DeclRange: blk.DefRange}
	l.cfg.Agents[name] = ag
	b := l.body("agent", l.content(blk, agentSchema), l.ctx).require(agentSchema)
	b.secretsOK = true
	if v, a, ok := b.str("token_sha256"); ok {
		v = strings.ToLower(strings.TrimSpace(v))
		if !IsHex(v, 64) {
			b.errorf(a, "Invalid token hash",
				"token_sha256 must be the SHA-256 of the agent's token as 64 hexadecimal characters (for example the output of `printf %%s TOKEN | sha256sum`), not the token itself.")
			return
		}
		ag.TokenSHA256 = v
	}
}

// IsHex reports whether s is n lowercase hexadecimal digits (a token's
// SHA-256 as sha256sum prints it, with n = 64).
func IsHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// targetType is one kind of `target "TYPE" "NAME" {}`. Adding a type is
// one entry in targetTypes.
type targetType struct {
	schema *hcl.BodySchema
	decode func(b *body, t *Target)
}

var targetTypes = map[string]targetType{
	"file": {
		schema: &hcl.BodySchema{Attributes: attrs(
			"agent", "dir!", "validate", "reload", "file_mode", "key_mode", "for_each",
		)},
		decode: decodeFileTarget,
	},
}

// decodeTargetBlock decodes `target "TYPE" "NAME" {}`.
func (l *loader) decodeTargetBlock(blk *hcl.Block) {
	name, ok := declare(l, "target", blk, l.cfg.Targets)
	if !ok {
		return
	}
	t := &Target{Type: blk.Labels[0], Name: name, DeclRange: blk.DefRange}
	l.cfg.Targets[name] = t
	tt, ok := blockType(l, "target", blk, targetTypes)
	if !ok {
		return
	}
	tt.decode(l.body("target", l.content(blk, tt.schema), l.ctx).require(tt.schema), t)
}

func decodeFileTarget(b *body, t *Target) {
	t.Agent, _, _ = b.ref("agent", "agent")
	if v, a, ok := b.str("dir"); ok {
		if v == "" {
			b.errorf(a, "Invalid directory", "dir must not be empty; use \".\" for the configuration directory.")
		}
		t.Dir = v
	}
	t.Validate, _, _ = b.str("validate")
	t.Reload, _, _ = b.str("reload")
	t.FileMode, t.KeyMode = 0o644, 0o600
	if m, ok := b.fileMode("file_mode"); ok {
		t.FileMode = m
	}
	if m, ok := b.fileMode("key_mode"); ok {
		t.KeyMode = m
	}
}

// fileMode reads an octal permission string such as "0640".
func (b *body) fileMode(name string) (uint32, bool) {
	s, a, ok := b.str(name)
	if !ok {
		return 0, false
	}
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o777 || len(s) < 3 {
		b.errorf(a, "Invalid file mode",
			"%s must be an octal permission string such as \"0640\", quoted so it is not read as a decimal number.", name)
		return 0, false
	}
	return uint32(m), true
}

// unsupportedType reports a TYPE label that certctl does not know.
func (l *loader) unsupportedType(blk *hcl.Block, kind string, supported []string) {
	hint := ""
	if c := closest(blk.Labels[0], append([]string(nil), supported...)); c != "" {
		hint = fmt.Sprintf(" Did you mean %q?", c)
	}
	l.errorf(blk.LabelRanges[0], "Unsupported "+kind+" type",
		"certctl has no %s type %q. Supported types: %s.%s", kind, blk.Labels[0], oneOfList(supported), hint)
	l.broken[kind+"."+blk.Labels[len(blk.Labels)-1]] = true
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
