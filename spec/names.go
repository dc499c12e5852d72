package spec

import (
	"fmt"
	"net"
	"net/mail"
	"strings"

	"golang.org/x/net/idna"
)

// maxDNSNameLength is the longest name DNS can carry in presentation form
// without the trailing dot (RFC 1035 §2.3.4).
const maxDNSNameLength = 253

// normalizeDNSName checks that name is a DNS name a certificate may carry
// and returns its ASCII (A-label), lower-case form. A wildcard is allowed only
// as the whole leftmost label ("*.example.com") above at least two labels.
// Internationalized names are converted with IDNA (UTS #46 lookup rules);
// the result must be letters, digits and hyphens (LDH) in every label, no
// label longer than 63 bytes, the whole at most 253 bytes, and no trailing
// dot (certificates never carry one).
func normalizeDNSName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("the name is empty")
	}
	if strings.HasSuffix(name, ".") {
		return "", fmt.Errorf("the name ends with a dot; certificates carry names without the trailing dot")
	}
	if net.ParseIP(name) != nil {
		return "", fmt.Errorf("it is an IP address; list it in ip_addresses instead")
	}
	wildcard := false
	base := name
	if strings.HasPrefix(name, "*.") {
		wildcard = true
		base = name[2:]
	}
	if strings.Contains(base, "*") {
		return "", fmt.Errorf("a wildcard is allowed only as the whole leftmost label, as in \"*.example.com\"")
	}
	ascii := strings.ToLower(base)
	if !isASCII(base) || hasPunycodeLabel(ascii) {
		var err error
		ascii, err = idna.Lookup.ToASCII(base)
		if err != nil {
			return "", fmt.Errorf("the name is not a valid internationalized domain name (%v)", err)
		}
	}
	if err := checkLDH(ascii); err != nil {
		return "", err
	}
	if wildcard {
		if strings.Count(ascii, ".") < 1 {
			return "", fmt.Errorf("a wildcard must cover at least two labels, as in \"*.example.com\"")
		}
		ascii = "*." + ascii
	}
	if len(ascii) > maxDNSNameLength {
		return "", fmt.Errorf("the name is %d bytes long; DNS names are at most %d", len(ascii), maxDNSNameLength)
	}
	return ascii, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func hasPunycodeLabel(s string) bool {
	return strings.HasPrefix(s, "xn--") || strings.Contains(s, ".xn--")
}

// checkLDH checks the lower-case ASCII labels of name.
func checkLDH(name string) error {
	for label := range strings.SplitSeq(name, ".") {
		switch {
		case label == "":
			return fmt.Errorf("the name has an empty label (two dots in a row, or a leading dot)")
		case len(label) > 63:
			return fmt.Errorf("the label %q is %d bytes long; labels are at most 63", label, len(label))
		case label[0] == '-' || label[len(label)-1] == '-':
			return fmt.Errorf("the label %q starts or ends with a hyphen", label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("the label %q contains %q; only letters, digits and hyphens are allowed", label, string(c))
			}
		}
	}
	return nil
}

// normalizeDomainPattern checks one allowed_domains entry and returns its
// normalized form. Three forms are accepted:
//
//	"example.com"    exactly example.com
//	"*.example.com"  one label below example.com ("www.example.com"), and the
//	                 wildcard name "*.example.com" itself
//	".example.com"   any name below example.com at any depth, including
//	                 wildcards ("a.b.example.com", "*.b.example.com"), but not
//	                 example.com itself
func normalizeDomainPattern(p string) (string, error) {
	switch {
	case strings.HasPrefix(p, "*."):
		n, err := normalizeDNSName(p)
		return n, err
	case strings.HasPrefix(p, "."):
		n, err := normalizeDNSName(p[1:])
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(n, "*") {
			return "", fmt.Errorf("a leading dot already means any subdomain; drop the wildcard")
		}
		return "." + n, nil
	default:
		return normalizeDNSName(p)
	}
}

// domainAllowed reports whether the normalized DNS name matches one of the
// normalized patterns (see normalizeDomainPattern). An empty pattern list
// allows every name.
func domainAllowed(name string, patterns []string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if matchDomain(p, name) {
			return true
		}
	}
	return false
}

func matchDomain(pattern, name string) bool {
	switch {
	case strings.HasPrefix(pattern, "*."):
		base := pattern[1:] // ".example.com"
		if !strings.HasSuffix(name, base) {
			return false
		}
		first := name[:len(name)-len(base)]
		return first != "" && !strings.Contains(first, ".")
	case strings.HasPrefix(pattern, "."):
		return strings.HasSuffix(name, pattern)
	default:
		return name == pattern
	}
}

// checkEmail accepts a bare address ("alice@example.com") and nothing more.
func checkEmail(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return fmt.Errorf("it is not a valid email address (%v)", strings.TrimPrefix(err.Error(), "mail: "))
	}
	if a.Name != "" || a.Address != s {
		return fmt.Errorf("write the bare address, like \"alice@example.com\", without a display name or angle brackets")
	}
	return nil
}
