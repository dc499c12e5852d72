package pkiserve

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"golang.org/x/crypto/ocsp"
)

// Mounted on an http.ServeMux at Prefix, as certctl watch does, the GET
// form works, and a "//" in the base64, escaped as RFC 6960 asks, is not
// cleaned away by the mux. (Unescaped, the mux redirects to the cleaned
// path: clients must escape, as the RFC says.)
func TestServeMuxGET(t *testing.T) {
	f := newFixture(t)
	s := New()
	f.update(t, s, f.now)
	mux := http.NewServeMux()
	mux.Handle(Prefix, s)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	req, err := ocsp.CreateRequest(f.good.Leaf, f.ca.Certificate(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, srv.URL+Prefix+"ocsp/internal/"+url.PathEscape(base64.StdEncoding.EncodeToString(req)))
	if r, err := ocsp.ParseResponse(body, f.ca.Certificate()); resp.StatusCode != 200 || err != nil || r.Status != ocsp.Good {
		t.Errorf("GET ocsp via ServeMux = %s, %+v, %v", resp.Status, r, err)
	}
	// An escaped "//" reaches the handler (not a redirect to a cleaned
	// path), which reads it as part of the request: here a damaged one.
	b64 := base64.StdEncoding.EncodeToString(req)
	resp, body = get(t, srv.URL+Prefix+"ocsp/internal/"+url.PathEscape("MA//"+b64[4:]))
	if resp.StatusCode != 200 || !bytes.Equal(body, ocsp.MalformedRequestErrorResponse) {
		t.Errorf("GET ocsp with an escaped // = %s %x, want 200 and malformedRequest", resp.Status, body)
	}
}
