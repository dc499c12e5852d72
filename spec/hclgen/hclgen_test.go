package hclgen

import (
	"testing"

	"github.com/hashicorp/hcl/v2/hclwrite"
)

func TestFile(t *testing.T) {
	f := NewFile()
	f.Block("team", "platform")
	f.Comment("Imported from certs/www.crt.\nSecond line.")
	c := f.Block("certificate", "www")
	c.String("common_name", "www.example.com")
	c.Strings("dns_names", []string{"www.example.com", "example.com"})
	c.Strings("ip_addresses", nil)
	c.Ref("issuer", "issuer", "internal")
	c.Refs("targets", "target", []string{"a", "b"})
	c.Map("labels", map[string]string{"env": "prod", "app": "shop"})
	c.Int("port", 80)
	c.Expr("token", `env("TOKEN")`)
	c.Block("http01").Int("port", 80)
	got := string(f.Bytes())
	want := `team "platform" {
}

# Imported from certs/www.crt.
# Second line.
certificate "www" {
  common_name = "www.example.com"
  dns_names   = ["www.example.com", "example.com"]
  issuer      = issuer.internal
  targets     = [target.a, target.b]
  labels = {
    app = "shop"
    env = "prod"
  }
  port  = 80
  token = env("TOKEN")
  http01 {
    port = 80
  }
}
`
	if got != want {
		t.Errorf("Bytes() =\n%s\nwant\n%s", got, want)
	}
	if string(hclwrite.Format([]byte(got))) != got {
		t.Error("Bytes() is not in canonical layout")
	}
}
