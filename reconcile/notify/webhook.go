package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"

	"github.com/certctl/certctl/spec"
)

// Headers the webhook notifier sets. FromSpec refuses `headers` named
// X-Certctl-*, so a configured header cannot pose as a signature.
const (
	// HeaderSignature is "sha256=" and the lowercase hex HMAC-SHA256 of the
	// exact request body, keyed with the notifier's `secret`; absent without
	// a secret. Receivers compare it in constant time (hmac.Equal) against
	// their own computation over the raw body, before parsing it.
	HeaderSignature = "X-Certctl-Signature"
	// HeaderEvent is the event name, for routing without parsing the body.
	HeaderEvent = "X-Certctl-Event"
	// HeaderDelivery is the event id; retries repeat it.
	HeaderDelivery = "X-Certctl-Delivery"
)

// webhook posts the Event itself as JSON (see [Event]).
//
// Attributes: url (required), secret, timeout, ca_bundle; plus `headers`.
// There is no separate timestamp header: the signature covers the body,
// which carries id and occurred_at, and a retry is byte-for-byte the same
// request, so receivers guard against replays by remembering ids.
type webhook struct {
	*base
	url     string
	secret  []byte
	headers map[string]string
}

var _ Sender = (*webhook)(nil)

func newWebhook(b *base, n *spec.Notifier, c *checker) *webhook {
	w := &webhook{base: b, url: c.httpURL("url", ""), headers: n.Headers}
	if s := n.Attrs["secret"]; s != "" {
		w.secret = []byte(s)
	}
	return w
}

// Sign returns the X-Certctl-Signature value for body under secret. It is
// exported for receivers written in Go and for tests.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (w *webhook) Send(ctx context.Context, ev Event) error {
	if err := w.checkEvent(&ev); err != nil {
		return err
	}
	body, err := json.Marshal(ev.normalized())
	if err != nil {
		return w.fail(err)
	}
	h := http.Header{}
	h.Set(HeaderEvent, ev.Event)
	h.Set(HeaderDelivery, ev.ID)
	if w.secret != nil {
		h.Set(HeaderSignature, Sign(w.secret, body))
	}
	return w.postJSON(ctx, w.url, w.headers, h, body)
}
