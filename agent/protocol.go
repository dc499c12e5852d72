package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/certctl/certctl/spec"
)

// FormatVersion is the format_version of Deployments.
const FormatVersion = "1"

// Limits on request bodies; a larger body is refused with 413.
const (
	MaxCSRBody    = 64 << 10
	MaxReportBody = 256 << 10
	// MaxReports bounds the reports of one request.
	MaxReports = 1000
	// maxErrorLen bounds a reported error message; longer ones are cut.
	maxErrorLen = 2048
)

// Deployments is the body of GET /api/v1/agents/{name}/deployments.
type Deployments struct {
	FormatVersion string `json:"format_version"`
	Agent         string `json:"agent"`
	// Revision is the configuration revision the view was built from.
	Revision    string       `json:"revision,omitempty"`
	Deployments []Deployment `json:"deployments"`
}

// Deployment is one certificate for one target of the agent.
type Deployment struct {
	Certificate string `json:"certificate"`
	Target      string `json:"target"`
	// Dir and Stem say where the files go: DIR/STEM.crt, .chain.crt,
	// .fullchain.crt and .key.
	Dir      string `json:"dir"`
	Stem     string `json:"stem"`
	FileMode string `json:"file_mode"` // octal, "0644"
	KeyMode  string `json:"key_mode"`  // octal, "0600"
	Validate string `json:"validate,omitempty"`
	Reload   string `json:"reload,omitempty"`
	// CSR, when set, asks the agent for a CSR: the certificate needs a
	// new version and its key is the agent's to generate.
	CSR *CSRRequest `json:"csr,omitempty"`
	// The current certificate, absent until one is issued.
	Fingerprint string    `json:"fingerprint,omitempty"`
	Serial      string    `json:"serial,omitempty"`
	NotAfter    time.Time `json:"not_after,omitzero"`
	CertPEM     string    `json:"cert_pem,omitempty"`
	ChainPEM    string    `json:"chain_pem,omitempty"`
	// Reported is what the server has recorded for this target, so that
	// an agent whose report was lost sends it again.
	Reported *Reported `json:"reported,omitempty"`
	// Error says why the server cannot give the agent a certificate for
	// this target (its key is held elsewhere).
	Error string `json:"error,omitempty"`
}

// CSRRequest is what a CSR for a certificate must ask for.
type CSRRequest struct {
	// ID names the request: a digest of the fields below. The agent sends
	// it back with its CSR, and asks once per ID.
	ID string `json:"id"`
	// CommonName is empty when the policy keeps it out of the subject
	// (subject_common_name = false); it is then among the SANs.
	CommonName     string   `json:"common_name,omitempty"`
	DNSNames       []string `json:"dns_names,omitempty"`
	IPAddresses    []string `json:"ip_addresses,omitempty"`
	EmailAddresses []string `json:"email_addresses,omitempty"`
	KeyAlgorithm   string   `json:"key_algorithm"`
}

// Reported is the server's record of a target's last deployment.
type Reported struct {
	Fingerprint string `json:"fingerprint,omitempty"`
	FilesDigest string `json:"files_digest,omitempty"`
	Error       string `json:"error,omitempty"`
}

// CSRSubmission is the body of POST /api/v1/agents/{name}/csr.
type CSRSubmission struct {
	Certificate string `json:"certificate"`
	RequestID   string `json:"request_id"`
	CSRPEM      string `json:"csr_pem"`
}

// ReportBatch is the body of POST /api/v1/agents/{name}/reports.
type ReportBatch struct {
	Reports []Report `json:"reports"`
}

// Report is the outcome of deploying one certificate to one target:
// Error empty for success (Fingerprint and FilesDigest then say what the
// target holds), else what failed (the target was rolled back).
type Report struct {
	Certificate string `json:"certificate"`
	Target      string `json:"target"`
	Fingerprint string `json:"fingerprint,omitempty"`
	FilesDigest string `json:"files_digest,omitempty"`
	Error       string `json:"error,omitempty"`
}

// ErrorBody is the body of every 4xx and 5xx answer.
type ErrorBody struct {
	Error string `json:"error"`
}

// decodeStrict decodes exactly one JSON object from r into v: unknown
// fields, trailing data and a body over the limit are errors.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed JSON body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("malformed JSON body: data after the object")
	}
	return nil
}

// DecodeCSRSubmission decodes and checks a CSR submission body.
func DecodeCSRSubmission(data []byte) (*CSRSubmission, error) {
	var s CSRSubmission
	if err := decodeStrict(data, &s); err != nil {
		return nil, err
	}
	switch {
	case s.Certificate == "":
		return nil, errors.New("certificate is required")
	case len(s.Certificate) > 256:
		return nil, errors.New("certificate name is longer than 256 bytes")
	case !isID(s.RequestID):
		return nil, errors.New("request_id must be 1 to 64 letters, digits, '-' or '_'")
	case s.CSRPEM == "":
		return nil, errors.New("csr_pem is required")
	}
	return &s, nil
}

// DecodeReportBatch decodes and checks a report batch; error messages
// longer than the limit are cut.
func DecodeReportBatch(data []byte) (*ReportBatch, error) {
	var b ReportBatch
	if err := decodeStrict(data, &b); err != nil {
		return nil, err
	}
	if len(b.Reports) == 0 {
		return nil, errors.New("reports is empty")
	}
	if len(b.Reports) > MaxReports {
		return nil, fmt.Errorf("%d reports, more than %d", len(b.Reports), MaxReports)
	}
	for i := range b.Reports {
		r := &b.Reports[i]
		switch {
		case r.Certificate == "" || r.Target == "":
			return nil, fmt.Errorf("reports[%d]: certificate and target are required", i)
		case len(r.Certificate) > 256 || len(r.Target) > 256:
			return nil, fmt.Errorf("reports[%d]: name longer than 256 bytes", i)
		case r.Error == "" && (!spec.IsHex(r.Fingerprint, 64) || !spec.IsHex(r.FilesDigest, 64)):
			return nil, fmt.Errorf("reports[%d]: a success needs fingerprint and files_digest (64 hex digits each)", i)
		case r.Fingerprint != "" && !spec.IsHex(r.Fingerprint, 64), r.FilesDigest != "" && !spec.IsHex(r.FilesDigest, 64):
			return nil, fmt.Errorf("reports[%d]: fingerprint and files_digest are 64 hex digits", i)
		}
		if len(r.Error) > maxErrorLen {
			r.Error = strings.ToValidUTF8(r.Error[:maxErrorLen], "") + "…"
		}
	}
	return &b, nil
}

func isID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
