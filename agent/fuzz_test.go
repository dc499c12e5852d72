package agent

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/certctl/certctl/spec"
)

// FuzzDecodeRequests feeds arbitrary bodies to both request decoders.
// Neither may panic; what one accepts must satisfy the checks the
// handlers rely on, and survive a re-encoding unchanged.
func FuzzDecodeRequests(f *testing.F) {
	for _, s := range []string{
		`{"certificate":"www","request_id":"abc_1-2","csr_pem":"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"}`,
		`{"certificate":"sites[\"api\"]","request_id":"0123456789abcdef0123456789abcdef","csr_pem":"x"}`,
		`{"reports":[{"certificate":"www","target":"t1","fingerprint":"` + strings.Repeat("a", 64) + `","files_digest":"` + strings.Repeat("0", 64) + `"}]}`,
		`{"reports":[{"certificate":"www","target":"t1","error":"validate failed"}]}`,
		`{"reports":[]}`, `{"certificate":`, `[]`, `null`, `{}`, `{"a":1}`, `{"reports":null}`,
		`{"certificate":"www","request_id":"../../etc","csr_pem":"x"}`, `{"reports":[{}]} {}`,
		"{\"certificate\":\"\xff\",\"request_id\":\"a\",\"csr_pem\":\"x\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if s, err := DecodeCSRSubmission(data); err == nil {
			if s.Certificate == "" || len(s.Certificate) > 256 || !isID(s.RequestID) || s.CSRPEM == "" {
				t.Fatalf("DecodeCSRSubmission accepted %+v", s)
			}
			b, _ := json.Marshal(s)
			again, err := DecodeCSRSubmission(b)
			if err != nil || !reflect.DeepEqual(again, s) {
				t.Fatalf("re-decoding %s = %+v, %v; want %+v", b, again, err, s)
			}
		}
		if r, err := DecodeReportBatch(data); err == nil {
			if len(r.Reports) == 0 || len(r.Reports) > MaxReports {
				t.Fatalf("DecodeReportBatch accepted %d reports", len(r.Reports))
			}
			for _, rep := range r.Reports {
				if rep.Certificate == "" || rep.Target == "" || len(rep.Error) > maxErrorLen+len("…") ||
					rep.Error == "" && (!spec.IsHex(rep.Fingerprint, 64) || !spec.IsHex(rep.FilesDigest, 64)) {
					t.Fatalf("DecodeReportBatch accepted %+v", rep)
				}
			}
			b, _ := json.Marshal(r)
			again, err := DecodeReportBatch(b)
			if err != nil || !reflect.DeepEqual(again, r) {
				t.Fatalf("re-decoding %s = %+v, %v; want %+v", b, again, err, r)
			}
		}
	})
}
