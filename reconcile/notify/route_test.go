package notify

import (
	"reflect"
	"testing"

	"github.com/certctl/certctl/spec"
)

func TestWants(t *testing.T) {
	all := &spec.Notifier{Name: "all"}
	some := &spec.Notifier{Name: "pager", Events: []string{EventFailed, EventExpired}}
	tests := []struct {
		n     *spec.Notifier
		event string
		want  bool
	}{
		{all, EventIssued, true},
		{all, EventExpiring, true},
		{some, EventFailed, true},
		{some, EventExpired, true},
		{some, EventIssued, false},
		{some, EventExpiring, false},
		{nil, EventFailed, false},
	}
	for _, tc := range tests {
		name := "nil"
		if tc.n != nil {
			name = tc.n.Name
		}
		if got := Wants(tc.n, tc.event); got != tc.want {
			t.Errorf("Wants(%s, %s) = %v, want %v", name, tc.event, got, tc.want)
		}
	}
}

func TestRoute(t *testing.T) {
	cfg := &spec.Config{
		Teams:  map[string]*spec.Team{"platform": {Name: "platform", Notifiers: []string{"ops", "pager"}}},
		Owners: map[string]*spec.Owner{"alice": {Name: "alice", Notifiers: []string{"mail", "ops"}}},
		Notifiers: map[string]*spec.Notifier{
			"ops":   {Name: "ops"},
			"pager": {Name: "pager", Events: []string{EventFailed, EventExpired}},
			"mail":  {Name: "mail"},
			"chat":  {Name: "chat", Events: []string{EventIssued}},
		},
	}
	cert := &spec.Certificate{Name: "www", Team: "platform", Owner: "alice", Notifiers: []string{"chat", "ops", "gone"}}
	tests := []struct {
		event string
		want  []string
	}{
		{EventIssued, []string{"chat", "mail", "ops"}},
		{EventFailed, []string{"mail", "ops", "pager"}},
		{EventExpiring, []string{"mail", "ops"}},
	}
	for _, tc := range tests {
		if got := Route(cfg, cert, tc.event); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Route(www, %s) = %v, want %v", tc.event, got, tc.want)
		}
	}
	lone := &spec.Certificate{Name: "lone"}
	if got := Route(cfg, lone, EventFailed); len(got) != 0 {
		t.Errorf("Route(lone, failed) = %v, want none", got)
	}
}
