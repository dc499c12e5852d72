package spec

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

func TestNormalizeDNSName(t *testing.T) {
	long63 := "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" // 63
	tests := []struct {
		in, want string // want "" means an error
	}{
		{"www.example.com", "www.example.com"},
		{"WWW.Example.COM", "www.example.com"},
		{"localhost", "localhost"},
		{"*.example.com", "*.example.com"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"bücher.example", "xn--bcher-kva.example"},
		{"*.bücher.example", "*.xn--bcher-kva.example"},
		{"BÜCHER.example", "xn--bcher-kva.example"},
		{"a-b.example.com", "a-b.example.com"},
		{"123.example.com", "123.example.com"},
		{long63 + ".com", long63 + ".com"},

		{"", ""},
		{"www.example.com.", ""},
		{".example.com", ""},
		{"a..example.com", ""},
		{"*", ""},
		{"*.com", ""},
		{"*.*.example.com", ""},
		{"www.*.example.com", ""},
		{"w*w.example.com", ""},
		{"*w.example.com", ""},
		{"under_score.example.com", ""},
		{"-a.example.com", ""},
		{"a-.example.com", ""},
		{"a b.example.com", ""},
		{long63 + "a.com", ""},
		{long63 + "." + long63 + "." + long63 + "." + long63 + ".com", ""}, // 259
		{"192.0.2.1", ""},
		{"::1", ""},
		{"xn--zz.example.com", ""},
		{"exa\u200dmple.com", ""}, // zero-width joiner
	}
	for _, tt := range tests {
		got, err := normalizeDNSName(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("normalizeDNSName(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("normalizeDNSName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestDomainAllowed(t *testing.T) {
	tests := []struct {
		patterns []string
		name     string
		want     bool
	}{
		{nil, "anything.example.org", true},
		{[]string{"example.com"}, "example.com", true},
		{[]string{"example.com"}, "www.example.com", false},
		{[]string{"*.example.com"}, "www.example.com", true},
		{[]string{"*.example.com"}, "*.example.com", true},
		{[]string{"*.example.com"}, "example.com", false},
		{[]string{"*.example.com"}, "a.b.example.com", false},
		{[]string{"*.example.com"}, "*.b.example.com", false},
		{[]string{"*.example.com"}, "wwwexample.com", false},
		{[]string{"*.example.com"}, "www.example.com.evil.org", false},
		{[]string{".example.com"}, "www.example.com", true},
		{[]string{".example.com"}, "a.b.example.com", true},
		{[]string{".example.com"}, "*.b.example.com", true},
		{[]string{".example.com"}, "*.example.com", true},
		{[]string{".example.com"}, "example.com", false},
		{[]string{".example.com"}, "badexample.com", false},
		{[]string{"example.com", "*.example.com"}, "example.com", true},
		{[]string{"example.com", "*.example.com"}, "api.example.com", true},
		{[]string{"example.com", "*.example.com"}, "example.org", false},
		{[]string{"xn--bcher-kva.example"}, "xn--bcher-kva.example", true},
	}
	for _, tt := range tests {
		var pats []string
		for _, p := range tt.patterns {
			n, err := normalizeDomainPattern(p)
			if err != nil {
				t.Fatalf("normalizeDomainPattern(%q): %v", p, err)
			}
			pats = append(pats, n)
		}
		if got := domainAllowed(tt.name, pats); got != tt.want {
			t.Errorf("domainAllowed(%q, %q) = %v, want %v", tt.name, tt.patterns, got, tt.want)
		}
	}
}

func TestNormalizeDomainPattern(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Example.COM", "example.com"},
		{"*.Example.com", "*.example.com"},
		{".example.com", ".example.com"},
		{".bücher.example", ".xn--bcher-kva.example"},
		{"", ""},
		{".", ""},
		{"..example.com", ""},
		{".*.example.com", ""},
		{"*.*.example.com", ""},
		{"example.com.", ""},
	}
	for _, tt := range tests {
		got, err := normalizeDomainPattern(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("normalizeDomainPattern(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("normalizeDomainPattern(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestCheckEmail(t *testing.T) {
	for in, ok := range map[string]bool{
		"alice@example.com":       true,
		"a.b+c@sub.example.com":   true,
		"Alice <a@example.com>":   false,
		"<a@example.com>":         false,
		"alice":                   false,
		"alice@":                  false,
		"":                        false,
		"alice@example.com, bob@": false,
	} {
		if err := checkEmail(in); (err == nil) != ok {
			t.Errorf("checkEmail(%q) = %v, want ok=%v", in, err, ok)
		}
	}
}

func TestValidNameMatchesHCL(t *testing.T) {
	for _, name := range []string{
		"", "a", "A", "_", "_a", "a-b", "a_b", "a1", "1a", "-a", "a.b", "a b",
		"www", "h00001", "caf\u00e9", "\u00e9", "a\u0301", "\ufeffa", "a\x00", "a$",
	} {
		b := &hcl.Block{Labels: []string{name}}
		if got, want := validName(b), hclsyntax.ValidIdentifier(name); got != want {
			t.Errorf("validName(%q) = %v, want %v", name, got, want)
		}
	}
	for c := 0; c < 0x80; c++ {
		for _, name := range []string{string(rune(c)), "a" + string(rune(c))} {
			b := &hcl.Block{Labels: []string{name}}
			if got, want := validName(b), hclsyntax.ValidIdentifier(name); got != want {
				t.Errorf("validName(%q) = %v, want %v", name, got, want)
			}
		}
	}
}
