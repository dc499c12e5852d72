package notify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"sort"
	"strings"
)

// Redacted replaces a secret in every error a Sender returns.
const Redacted = "[REDACTED]"

// A redactor removes a notifier's secrets from text. Secrets are removed as
// written and in the encodings they travel in (query- and path-escaped, JSON
// string, base64); a secret URL is shown as scheme://host/[REDACTED] so an
// error still says which service failed.
//
// Errors are not scrubbed by formatting and wrapping the original: the
// original may carry the secret in a field (url.Error.URL) that a caller could
// reach with errors.As. [redactor.err] returns a new error that keeps only
// the message, scrubbed, and the causes a caller may need to inspect: the
// context errors and a *StatusError (whose body is scrubbed when made).
//
// A redactor is filled by FromSpec and read-only afterwards, so Senders may
// be used from several goroutines.
type redactor struct {
	pairs    map[string]string // secret form → replacement
	maxLen   int               // longest key of pairs
	replacer *strings.Replacer
}

func (r *redactor) add(secret string) { r.addAs(secret, Redacted) }

func (r *redactor) addAs(secret, repl string) {
	if secret == "" {
		return
	}
	if r.pairs == nil {
		r.pairs = map[string]string{}
	}
	forms := []string{secret, url.QueryEscape(secret), url.PathEscape(secret)}
	if b, err := json.Marshal(secret); err == nil {
		forms = append(forms, strings.Trim(string(b), `"`))
	}
	for _, f := range forms {
		if f != "" {
			r.pairs[f] = repl
			r.maxLen = max(r.maxLen, len(f))
		}
	}
	r.replacer = nil
}

// addBase64 registers the base64 form of b (an AUTH PLAIN blob, say).
func (r *redactor) addBase64(b []byte) {
	r.add(base64.StdEncoding.EncodeToString(b))
}

// addURL registers raw as a secret URL: the URL in every spelling, its path
// and query, its password and query values.
func (r *redactor) addURL(raw string) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		r.add(raw)
		return
	}
	shown := u.Scheme + "://" + u.Host + "/" + Redacted
	r.addAs(raw, shown)
	r.addAs(u.String(), shown)
	if p := u.EscapedPath(); len(p) > 1 {
		r.add(p)
		r.add(u.Path)
	}
	r.add(u.RawQuery)
	if pw, ok := u.User.Password(); ok {
		r.add(pw)
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			r.add(v)
		}
	}
}

// addURLCredentials registers the parts of a URL that is otherwise not
// secret which usually are: its password and its query values (?token=…).
func (r *redactor) addURLCredentials(raw string) {
	u, err := url.Parse(raw)
	if err != nil {
		return
	}
	if pw, ok := u.User.Password(); ok {
		r.add(pw)
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			r.add(v)
		}
	}
}

// str returns s with every secret replaced. Longer secrets are matched first,
// so a URL is shown in its redacted form rather than cut up by its parts.
func (r *redactor) str(s string) string {
	if r == nil || len(r.pairs) == 0 {
		return s
	}
	if r.replacer == nil {
		keys := make([]string, 0, len(r.pairs))
		for k := range r.pairs {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if len(keys[i]) != len(keys[j]) {
				return len(keys[i]) > len(keys[j])
			}
			return keys[i] < keys[j]
		})
		args := make([]string, 0, 2*len(keys))
		for _, k := range keys {
			args = append(args, k, r.pairs[k])
		}
		r.replacer = strings.NewReplacer(args...)
	}
	return r.replacer.Replace(s)
}

// err returns err as a secret-free error whose message starts with prefix.
// A nil err stays nil.
func (r *redactor) err(prefix string, err error) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = r.str(ue.URL)
	}
	e := &scrubbedError{msg: r.str(prefix + err.Error())}
	var se *StatusError
	switch {
	case errors.As(err, &se):
		e.cause = se
	case errors.Is(err, context.DeadlineExceeded):
		e.cause = context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		e.cause = context.Canceled
	}
	return e
}

// prepare builds the replacer now, so that concurrent Sends only read it.
func (r *redactor) prepare() { r.str("") }

type scrubbedError struct {
	msg   string
	cause error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.cause }
