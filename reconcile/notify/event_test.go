package notify

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func TestSeverity(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		event     string
		threshold time.Duration
		want      string
	}{
		{EventExpiring, 30 * day, SeverityInfo},
		{EventExpiring, 21 * day, SeverityInfo},
		{EventExpiring, 14 * day, SeverityWarning},
		{EventExpiring, 7 * day, SeverityWarning},
		{EventExpiring, 1 * day, SeverityWarning},
		{EventExpiring, 0, SeverityCritical},
		{EventExpired, 0, SeverityCritical},
		{EventExpired, 30 * day, SeverityCritical},
		{EventFailed, 0, SeverityCritical},
		{EventIssued, 0, SeverityInfo},
		{EventRenewed, 0, SeverityInfo},
		{EventReplaced, 0, SeverityInfo},
		{EventDeployed, 0, SeverityInfo},
		{EventRevoked, 0, SeverityInfo},
	}
	for _, tc := range tests {
		if got := Severity(tc.event, tc.threshold); got != tc.want {
			t.Errorf("Severity(%s, %v) = %s, want %s", tc.event, tc.threshold, got, tc.want)
		}
	}
}

func TestEventValidate(t *testing.T) {
	ev := testEvent(EventExpiring)
	if err := ev.Validate(); err != nil {
		t.Fatalf("Validate(valid event) = %v", err)
	}
	bad := Event{Version: 2, Event: "exploded", Severity: "meh"}
	err := bad.Validate()
	if err == nil {
		t.Fatal("Validate(bad event) = nil, want errors")
	}
	for _, want := range []string{"version 2", "id is empty", `unknown event "exploded"`, `unknown severity "meh"`, "certificate name is empty", "occurred_at is zero"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate(bad event) = %q, want it to mention %q", err, want)
		}
	}
}

// compileEventSchema compiles schemas/event.schema.json with format
// assertions on (date-time is checked).
func compileEventSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("../../schemas/event.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("event.schema.json is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("event.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("event.schema.json")
	if err != nil {
		t.Fatalf("compiling event.schema.json: %v", err)
	}
	return sch
}

func validateEventJSON(t *testing.T, sch *jsonschema.Schema, body []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

func TestEventJSONMatchesSchema(t *testing.T) {
	sch := compileEventSchema(t)
	minimal := Event{ID: "n-1", Event: EventFailed, Severity: SeverityCritical,
		Certificate: Certificate{Name: "api"}, OccurredAt: testOccurred}
	for _, ev := range []Event{testEvent(EventExpiring), testEvent(EventIssued), minimal} {
		body, err := json.Marshal(ev.normalized())
		if err != nil {
			t.Fatal(err)
		}
		if err := validateEventJSON(t, sch, body); err != nil {
			t.Errorf("event %s does not match the schema: %v\n%s", ev.Event, err, body)
		}
		if ev.Certificate.NotAfter.IsZero() && bytes.Contains(body, []byte("not_after")) {
			t.Errorf("zero not_after is written: %s", body)
		}
	}
	// The schema must reject what Validate rejects.
	for _, body := range []string{
		`{"version":1,"id":"x","event":"exploded","severity":"info","certificate":{"name":"a","common_name":"","dns_names":[]},"message":"","occurred_at":"2026-04-17T12:00:00Z"}`,
		`{"version":1,"id":"x","event":"issued","severity":"info","certificate":{"name":"a","common_name":"","dns_names":[]},"message":"","occurred_at":"yesterday"}`,
		`{"version":2,"id":"x","event":"issued","severity":"info","certificate":{"name":"a","common_name":"","dns_names":[]},"message":"","occurred_at":"2026-04-17T12:00:00Z"}`,
	} {
		if err := validateEventJSON(t, sch, []byte(body)); err == nil {
			t.Errorf("schema accepts %s", body)
		}
	}
}

// The schema documents exactly the fields Event and Certificate marshal.
func TestSchemaPropertiesMatchStruct(t *testing.T) {
	raw, err := os.ReadFile("../../schemas/event.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties map[string]struct {
			Properties map[string]any `json:"properties"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	check := func(what string, typ reflect.Type, props []string) {
		var fields []string
		for i := 0; i < typ.NumField(); i++ {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			fields = append(fields, name)
		}
		sort.Strings(fields)
		sort.Strings(props)
		if !reflect.DeepEqual(fields, props) {
			t.Errorf("%s: struct fields %v, schema properties %v", what, fields, props)
		}
	}
	var top, cert []string
	for k := range s.Properties {
		top = append(top, k)
	}
	for k := range s.Properties["certificate"].Properties {
		cert = append(cert, k)
	}
	check("event", reflect.TypeOf(Event{}), top)
	check("certificate", reflect.TypeOf(Certificate{}), cert)
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"this is too long", 8, "this is…"},
		{"ééééé", 3, "éé…"},
	}
	for _, tc := range tests {
		if got := truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
