package spec

import "github.com/hashicorp/hcl/v2"

// rootSchema is the top level of a configuration file. Anything else there
// gets hcl's own "Unsupported block type" or "Unsupported argument".
var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "certctl"},
		{Type: "server"},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "team", LabelNames: []string{"name"}},
		{Type: "owner", LabelNames: []string{"name"}},
		{Type: "policy", LabelNames: []string{"name"}},
		{Type: "issuer", LabelNames: []string{"type", "name"}},
		{Type: "notifier", LabelNames: []string{"type", "name"}},
		{Type: "agent", LabelNames: []string{"name"}},
		{Type: "target", LabelNames: []string{"type", "name"}},
		{Type: "certificate", LabelNames: []string{"name"}},
	},
}

// attrs builds a schema of optional attributes; names ending in "!" are
// required.
func attrs(names ...string) []hcl.AttributeSchema {
	out := make([]hcl.AttributeSchema, len(names))
	for i, n := range names {
		req := false
		if len(n) > 0 && n[len(n)-1] == '!' {
			n, req = n[:len(n)-1], true
		}
		out[i] = hcl.AttributeSchema{Name: n, Required: req}
	}
	return out
}

// for_each is in every block schema so that using it outside a certificate
// gets a message that says so, rather than "Unsupported argument".

var settingsSchema = &hcl.BodySchema{Attributes: attrs("state")}

var serverSchema = &hcl.BodySchema{Attributes: attrs("url!")}

var variableSchema = &hcl.BodySchema{Attributes: attrs("default", "type", "description", "sensitive")}

var teamSchema = &hcl.BodySchema{Attributes: attrs("notifiers", "for_each")}

var ownerSchema = &hcl.BodySchema{Attributes: attrs("email", "team", "notifiers", "for_each")}

var policySchema = &hcl.BodySchema{Attributes: attrs(
	"validity", "max_validity", "renew_before", "key_algorithm",
	"allowed_key_algorithms", "usages", "allowed_domains", "notify_before",
	"subject_common_name", "for_each",
)}

var agentSchema = &hcl.BodySchema{Attributes: attrs("token_sha256!", "for_each")}

var certificateSchema = &hcl.BodySchema{Attributes: attrs(
	"common_name!", "dns_names", "ip_addresses", "email_addresses",
	"issuer!", "policy!", "owner!", "team!",
	"targets", "notifiers", "labels",
	"key_algorithm", "validity", "on_remove", "for_each",
)}
