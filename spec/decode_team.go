package spec

import (
	"net/url"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// decodeSettings decodes the `certctl {}` block; there may be one.
func (l *loader) decodeSettings(blocks []*hcl.Block) {
	for i, blk := range blocks {
		if i > 0 {
			l.errorf(blk.DefRange, "Duplicate certctl block",
				"A certctl block was already declared at %s. Merge the two into one.", at(blocks[0].DefRange))
			continue
		}
		content, diags := blk.Body.Content(settingsSchema)
		l.diags = append(l.diags, diags...)
		b := l.body("certctl block", content, l.ctx)
		s := Settings{DeclRange: blk.DefRange}
		if v, a, ok := b.str("state"); ok {
			if v == "" {
				b.errorf(a, "Invalid state path", "state must not be empty; remove the argument to use the default.")
			}
			s.State = v
		}
		l.cfg.Settings = s
	}
}

// decodeServer decodes the `server {}` block; there is at most one.
func (l *loader) decodeServer(blocks []*hcl.Block) {
	for i, blk := range blocks {
		if i > 0 {
			l.errorf(blk.DefRange, "Duplicate server block",
				"A server block was already declared at %s. Merge the two into one.", at(blocks[0].DefRange))
			continue
		}
		content, diags := blk.Body.Content(serverSchema)
		l.diags = append(l.diags, diags...)
		b := l.body("server block", content, l.ctx)
		v, a, ok := b.str("url")
		if !ok {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			b.errorf(a, "Invalid URL",
				"url must be an absolute http or https URL without a query, such as \"https://pki.example.com\"; got %q.", v)
			continue
		}
		l.cfg.Server = &Server{URL: strings.TrimRight(v, "/"), DeclRange: blk.DefRange}
	}
}

// decodeTeamBlock decodes `team "NAME" {}`.
func (l *loader) decodeTeamBlock(blk *hcl.Block) {
	name, ok := declare(l, "team", blk, l.cfg.Teams)
	if !ok {
		return
	}
	t := &Team{Name: name, DeclRange: blk.DefRange}
	l.cfg.Teams[name] = t
	b := l.body("team", l.content(blk, teamSchema), l.ctx)
	t.Notifiers, _, _ = b.refList("notifiers", "notifier")
}

// decodeOwnerBlock decodes `owner "NAME" {}`.
func (l *loader) decodeOwnerBlock(blk *hcl.Block) {
	name, ok := declare(l, "owner", blk, l.cfg.Owners)
	if !ok {
		return
	}
	o := &Owner{Name: name, DeclRange: blk.DefRange}
	l.cfg.Owners[name] = o
	b := l.body("owner", l.content(blk, ownerSchema), l.ctx)
	if v, a, ok := b.str("email"); ok {
		if err := checkEmail(v); err != nil {
			b.errorf(a, "Invalid email address", "%s is not usable as an email address: %v.", b.show("email", v), err)
		}
		o.Email = v
	}
	o.Team, _, _ = b.ref("team", "team")
	o.Notifiers, _, _ = b.refList("notifiers", "notifier")
}
