package state

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// marshalCertEntry is json.Marshal(certEntry{V: v, Cert: c}), byte for
// byte, without reflection: apply commits one entry per certificate, and
// encoding/json spent more CPU on it than the rest of the record's
// preparation. Where encoding/json would fail (a time outside years
// 0-9999 or with a zone offset of a day or more), this returns its result
// and error. TestCertEntryEncoderMatchesStd and FuzzCertEntryEncoder hold
// the two to the same bytes for every field (a field added to a record
// type and not here fails them).
func marshalCertEntry(v int, c *Certificate) ([]byte, error) {
	if c == nil {
		return json.Marshal(certEntry{V: v})
	}
	e := recEncoder{buf: make([]byte, 0, 1024)}
	e.raw(`{"v":`)
	e.buf = strconv.AppendInt(e.buf, int64(v), 10)
	e.raw(`,"certificate":`)
	e.certificate(c)
	e.raw("}")
	if e.bad {
		return json.Marshal(certEntry{V: v, Cert: c})
	}
	return e.buf, nil
}

// recEncoder appends JSON to buf as encoding/json writes it. bad records
// that a value could not be written so (encoding/json fails on it), and
// the caller must use encoding/json's result instead.
type recEncoder struct {
	buf []byte
	bad bool
}

func (e *recEncoder) raw(s string) { e.buf = append(e.buf, s...) }

// key writes `"name":`, after a comma unless first; names are ours, plain
// ASCII with nothing to escape.
func (e *recEncoder) key(name string, first bool) {
	if !first {
		e.buf = append(e.buf, ',')
	}
	e.buf = append(e.buf, '"')
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, '"', ':')
}

func (e *recEncoder) str(name, s string)           { e.key(name, false); e.string(s) }
func (e *recEncoder) tim(name string, t time.Time) { e.key(name, false); e.time(t) }

func (e *recEncoder) strOmitEmpty(name, s string) {
	if s != "" {
		e.str(name, s)
	}
}

func (e *recEncoder) timOmitZero(name string, t time.Time) {
	if !t.IsZero() {
		e.tim(name, t)
	}
}

func (e *recEncoder) intOmitEmpty(name string, n int) {
	if n != 0 {
		e.key(name, false)
		e.buf = strconv.AppendInt(e.buf, int64(n), 10)
	}
}

func (e *recEncoder) strsOmitEmpty(name string, ss []string) {
	if len(ss) > 0 {
		e.key(name, false)
		e.strings(ss)
	}
}

func (e *recEncoder) bytesOmitEmpty(name string, b []byte) {
	if len(b) > 0 {
		e.key(name, false)
		e.bytes(b)
	}
}

// bytes writes b as encoding/json does a []byte: base64, null when nil.
func (e *recEncoder) bytes(b []byte) {
	if b == nil {
		e.raw("null")
		return
	}
	e.buf = append(e.buf, '"')
	e.buf = base64.StdEncoding.AppendEncode(e.buf, b)
	e.buf = append(e.buf, '"')
}

// certificate writes c's fields in Certificate's order, with its tags'
// omitempty and omitzero.
func (e *recEncoder) certificate(c *Certificate) {
	e.buf = append(e.buf, '{')
	e.key("name", true)
	e.string(c.Name)
	e.str("digest", c.Digest)
	e.str("serial", c.Serial)
	e.tim("not_before", c.NotBefore)
	e.tim("not_after", c.NotAfter)
	e.str("fingerprint", c.Fingerprint)
	e.str("issuer", c.Issuer)
	e.str("common_name", c.CommonName)
	e.strsOmitEmpty("dns_names", c.DNSNames)
	e.strsOmitEmpty("ip_addresses", c.IPAddresses)
	e.strsOmitEmpty("email_addresses", c.EmailAddresses)
	e.str("key_algorithm", c.KeyAlgorithm)
	e.strsOmitEmpty("usages", c.Usages)
	e.strOmitEmpty("issuer_url", c.IssuerURL)
	e.strOmitEmpty("ocsp_url", c.OCSPURL)
	e.strOmitEmpty("crl_url", c.CRLURL)
	if c.NoSubjectCommonName {
		e.key("no_subject_common_name", false)
		e.raw("true")
	}
	e.str("owner", c.Owner)
	e.str("team", c.Team)
	if len(c.Labels) > 0 {
		e.key("labels", false)
		e.buf = append(e.buf, '{')
		for i, k := range sortedKeys(c.Labels) {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.string(k)
			e.buf = append(e.buf, ':')
			e.string(c.Labels[k])
		}
		e.buf = append(e.buf, '}')
	}
	e.bytesOmitEmpty("cert_pem", c.CertPEM)
	e.bytesOmitEmpty("chain_pem", c.ChainPEM)
	e.bytesOmitEmpty("key_sealed", c.KeySealed)
	e.str("status", c.Status)
	e.strOmitEmpty("last_error", c.LastError)
	e.timOmitZero("failed_at", c.FailedAt)
	e.intOmitEmpty("failures", c.Failures)
	e.timOmitZero("next_attempt_at", c.NextAttemptAt)
	e.timOmitZero("issued_at", c.IssuedAt)
	e.timOmitZero("updated_at", c.UpdatedAt)
	e.strOmitEmpty("revision", c.Revision)
	e.strOmitEmpty("revision_author", c.RevisionAuthor)
	e.strOmitEmpty("on_remove", c.OnRemove)
	e.timOmitZero("renewal_window_start", c.RenewalWindowStart)
	e.timOmitZero("renewal_window_end", c.RenewalWindowEnd)
	e.timOmitZero("ari_checked_at", c.ARICheckedAt)
	e.timOmitZero("revoked_at", c.RevokedAt)
	e.intOmitEmpty("revoked_reason", c.RevokedReason)
	if len(c.History) > 0 {
		e.key("history", false)
		e.buf = append(e.buf, '[')
		for i := range c.History {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.version(&c.History[i])
		}
		e.buf = append(e.buf, ']')
	}
	if len(c.Deployments) > 0 {
		e.key("deployments", false)
		e.buf = append(e.buf, '{')
		for i, k := range sortedKeys(c.Deployments) {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.string(k)
			e.buf = append(e.buf, ':')
			e.deployment(c.Deployments[k])
		}
		e.buf = append(e.buf, '}')
	}
	e.strOmitEmpty("key_agent", c.KeyAgent)
	if r := c.CSR; r != nil {
		e.key("csr", false)
		e.buf = append(e.buf, '{')
		e.key("pem", true)
		e.bytes(r.PEM)
		e.str("agent", r.Agent)
		e.str("request_id", r.RequestID)
		e.tim("submitted_at", r.SubmittedAt)
		e.buf = append(e.buf, '}')
	}
	e.timOmitZero("renew_requested_at", c.RenewRequestedAt)
	if n := c.Notified; n != nil {
		e.key("notified", false)
		e.buf = append(e.buf, '{')
		e.key("fingerprint", true)
		e.string(n.Fingerprint)
		e.key("notices", false)
		if n.Notices == nil {
			e.raw("null") // no omitempty: encoding/json writes a nil slice so
		} else {
			e.strings(n.Notices)
		}
		e.buf = append(e.buf, '}')
	}
	e.buf = append(e.buf, '}')
}

func (e *recEncoder) version(v *Version) {
	e.buf = append(e.buf, '{')
	e.key("serial", true)
	e.string(v.Serial)
	e.tim("not_before", v.NotBefore)
	e.tim("not_after", v.NotAfter)
	e.str("fingerprint", v.Fingerprint)
	e.str("digest", v.Digest)
	e.tim("superseded_at", v.SupersededAt)
	e.str("reason", v.Reason)
	e.strOmitEmpty("issuer", v.Issuer)
	e.timOmitZero("issued_at", v.IssuedAt)
	e.buf = append(e.buf, '}')
}

func (e *recEncoder) deployment(d Deployment) {
	e.buf = append(e.buf, '{')
	e.key("fingerprint", true)
	e.string(d.Fingerprint)
	e.str("files_digest", d.FilesDigest)
	e.tim("deployed_at", d.DeployedAt)
	e.strOmitEmpty("last_error", d.LastError)
	e.strOmitEmpty("agent", d.Agent)
	e.timOmitZero("reported_at", d.ReportedAt)
	e.buf = append(e.buf, '}')
}

func (e *recEncoder) strings(ss []string) {
	e.buf = append(e.buf, '[')
	for i, s := range ss {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.string(s)
	}
	e.buf = append(e.buf, ']')
}

// time writes t as time.Time.MarshalJSON does (RFC 3339 with nanoseconds
// as needed), and marks the encoder bad where MarshalJSON fails.
func (e *recEncoder) time(t time.Time) {
	if y := t.Year(); y < 0 || y > 9999 {
		e.bad = true
		return
	}
	if _, off := t.Zone(); off <= -24*60*60 || off >= 24*60*60 {
		e.bad = true
		return
	}
	e.buf = append(e.buf, '"')
	e.buf = t.AppendFormat(e.buf, time.RFC3339Nano)
	e.buf = append(e.buf, '"')
}

// string writes s quoted as encoding/json does by default: the two-letter
// escapes for \b \f \n \r \t " \, \u00XX for other control characters
// and for < > & (HTML-safe), \ufffd for each byte of invalid UTF-8, and
// \u2028 and \u2029 escaped; everything else as it is.
func (e *recEncoder) string(s string) {
	const hex = "0123456789abcdef"
	b := append(e.buf, '"')
	done := 0 // s[:done] is in b
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[done:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			done = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[done:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[done:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		done = i
	}
	b = append(b, s[done:]...)
	e.buf = append(b, '"')
}

// sortedKeys returns m's keys in the order encoding/json writes them.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
