package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/certctl/certctl/reconcile/notify"
	"github.com/rogpeppe/go-internal/testscript"
)

// Script commands for the notification scenarios (notify_*.txtar). They
// are registered beside the others in scriptCmds.
func init() {
	scriptCmds["webhook"] = cmdWebhook
	scriptCmds["sleep"] = cmdSleep
	scriptCmds["jsonvar"] = cmdJSONVar
}

// receiver is a real webhook receiver on loopback that fails the first
// `fail` requests with 503, or holds requests while hanging.
type receiver struct {
	srv    *httptest.Server
	secret []byte

	mu        sync.Mutex
	fail      int             // requests still to fail
	hang      chan struct{}   // non-nil: requests wait until it is closed
	requests  int             // every request received
	delivered int             // requests answered 2xx
	ids       map[string]int  // event id → requests carrying it
	okIDs     map[string]int  // event id → 2xx answers
	badSig    int             // requests whose signature did not verify
	bodies    []string        // bodies answered 2xx, in order
	arrived   chan struct{}   // closed on the first request while hanging
	events    map[string]bool // event names delivered
}

var (
	receiversMu sync.Mutex
	receivers   = map[*testscript.TestScript]map[string]*receiver{}
)

func getReceiver(ts *testscript.TestScript, name string) *receiver {
	receiversMu.Lock()
	defer receiversMu.Unlock()
	r := receivers[ts][name]
	if r == nil {
		ts.Fatalf("no webhook receiver %q (start it with: webhook start %s)", name, name)
	}
	return r
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var ev notify.Event
	_ = json.Unmarshal(body, &ev)
	r.mu.Lock()
	r.requests++
	r.ids[ev.ID]++
	if r.secret != nil && !signatureOK(r.secret, body, req.Header.Get(notify.HeaderSignature)) {
		r.badSig++
	}
	hang, arrived := r.hang, r.arrived
	if hang != nil && arrived != nil {
		close(arrived)
		r.arrived = nil
	}
	r.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-req.Context().Done():
			return // the sender went away (killed): no answer
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		// The body echoes what a careless service might: the request's
		// own headers. The secret must not come back out of certctl.
		http.Error(w, "unavailable; got signature "+req.Header.Get(notify.HeaderSignature), http.StatusServiceUnavailable)
		return
	}
	r.delivered++
	r.okIDs[ev.ID]++
	r.events[ev.Event] = true
	r.bodies = append(r.bodies, string(body))
	w.WriteHeader(http.StatusNoContent)
}

func signatureOK(secret, body []byte, got string) bool {
	return got == notify.Sign(secret, body)
}

// webhook start NAME [FAIL] [SECRETVAR]: start a receiver that fails its
// first FAIL requests; its URL (with a path token that must stay secret)
// goes to $NAME_URL. With SECRETVAR it checks signatures made with that
// variable's value.
// webhook fail NAME N: fail the next N requests (0: recover).
// webhook hang NAME: hold requests until `webhook release NAME`.
// webhook waitrequest NAME: wait (10 s at most) for a held request.
// webhook close NAME: stop the receiver (its URL refuses connections).
// webhook check NAME KEY=N...: requests, delivered, ids (distinct ids
// received), delivered_ids (distinct ids answered 2xx), max_per_id (most
// 2xx answers for one id), badsig.
// webhook dump NAME FILE: write the delivered bodies, one a line.
func cmdWebhook(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: webhook start|fail|hang|release|waitrequest|close|check|dump NAME ...")
	}
	if neg && args[0] != "check" {
		ts.Fatalf("unsupported: ! webhook %s", args[0])
	}
	op, name := args[0], args[1]
	switch op {
	case "start":
		r := &receiver{ids: map[string]int{}, okIDs: map[string]int{}, events: map[string]bool{}}
		if len(args) > 2 {
			n, err := strconv.Atoi(args[2])
			ts.Check(err)
			r.fail = n
		}
		if len(args) > 3 {
			r.secret = []byte(ts.Getenv(args[3]))
		}
		r.srv = httptest.NewServer(r)
		receiversMu.Lock()
		if receivers[ts] == nil {
			receivers[ts] = map[string]*receiver{}
		}
		receivers[ts][name] = r
		receiversMu.Unlock()
		ts.Setenv(strings.ToUpper(name)+"_URL", r.srv.URL+"/hooks/tok-"+name+"-9f3a7c")
		ts.Defer(func() {
			r.mu.Lock()
			if r.hang != nil {
				close(r.hang)
				r.hang = nil
			}
			r.mu.Unlock()
			r.srv.Close()
			receiversMu.Lock()
			delete(receivers[ts], name)
			receiversMu.Unlock()
		})
	case "fail":
		r := getReceiver(ts, name)
		n, err := strconv.Atoi(args[2])
		ts.Check(err)
		r.mu.Lock()
		r.fail = n
		r.mu.Unlock()
	case "hang":
		r := getReceiver(ts, name)
		r.mu.Lock()
		r.hang, r.arrived = make(chan struct{}), make(chan struct{})
		r.mu.Unlock()
	case "release":
		r := getReceiver(ts, name)
		r.mu.Lock()
		if r.hang != nil {
			close(r.hang)
		}
		r.hang, r.arrived = nil, nil
		r.mu.Unlock()
	case "waitrequest":
		r := getReceiver(ts, name)
		r.mu.Lock()
		arrived := r.arrived
		r.mu.Unlock()
		if arrived == nil {
			ts.Fatalf("webhook %s is not hanging", name)
		}
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			ts.Fatalf("webhook %s: no request within 10s", name)
		}
	case "close":
		r := getReceiver(ts, name)
		r.srv.Close()
	case "check":
		r := getReceiver(ts, name)
		r.mu.Lock()
		maxPerID := 0
		for _, n := range r.okIDs {
			maxPerID = max(maxPerID, n)
		}
		got := map[string]int{
			"requests": r.requests, "delivered": r.delivered, "ids": len(r.ids),
			"delivered_ids": len(r.okIDs), "max_per_id": maxPerID, "badsig": r.badSig,
		}
		r.mu.Unlock()
		for _, kv := range args[2:] {
			k, v, ok := strings.Cut(kv, "=")
			want, err := strconv.Atoi(v)
			if _, known := got[k]; !ok || err != nil || !known {
				ts.Fatalf("webhook check: bad argument %q", kv)
			}
			if (got[k] == want) == neg {
				ts.Fatalf("webhook %s: %s = %d, want %s%d", name, k, got[k], map[bool]string{true: "not ", false: ""}[neg], want)
			}
		}
	case "dump":
		r := getReceiver(ts, name)
		r.mu.Lock()
		data := strings.Join(r.bodies, "\n")
		r.mu.Unlock()
		if data != "" {
			data += "\n"
		}
		ts.Check(os.WriteFile(ts.MkAbs(args[2]), []byte(data), 0o644))
	default:
		ts.Fatalf("webhook: unknown operation %q", op)
	}
}

// sleep DURATION: wait, so that a retry scheduled that far ahead is due.
// Scripts never assert on time; they only wait past a backoff.
func cmdSleep(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: sleep DURATION")
	}
	d, err := time.ParseDuration(args[0])
	ts.Check(err)
	time.Sleep(d)
}

// jsonvar FILE PATH VAR: set $VAR to the value at PATH (dot-separated keys
// and array indexes: notifications.0.id) in the JSON document FILE.
func cmdJSONVar(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 || neg {
		ts.Fatalf("usage: jsonvar FILE PATH VAR")
	}
	var v any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &v))
	for _, k := range strings.Split(args[1], ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				ts.Fatalf("jsonvar: %s: no element %q", args[1], k)
			}
			v = x[i]
		default:
			ts.Fatalf("jsonvar: %s: %q not found", args[1], k)
		}
	}
	if v == nil {
		ts.Fatalf("jsonvar: %s not found in %s", args[1], args[0])
	}
	ts.Setenv(args[2], fmt.Sprint(v))
}
