team "platform" {}

owner "alice" {
  email = "alice@example.com"
  team  = team.platform
}

policy "web" {
  validity     = "90d"
  max_validity = "400d"
  renew_before = "30d"
}

# Every attribute, with secrets where secrets belong.
issuer "acme" "pebble" {
  directory       = "https://127.0.0.1:14000/dir"
  email           = "pki@example.com"
  ca_bundle       = file("ca.pem")
  profile         = "default"
  max_concurrency = 8
  rate_limit      = { orders = 300, per = "3h" }
  backoff         = ["30s", "5m", "1h"]
  poll_interval   = "250ms"
  timeout         = "30s"

  eab {
    kid      = "kid-1"
    hmac_key = env("EAB_HMAC")
  }

  http01 {
    port  = 5002
    iface = "127.0.0.1"
  }
}

issuer "acme" "letsencrypt" {
  directory = "https://acme-v02.api.letsencrypt.org/directory"

  dns01 {
    provider = "dnsupdate"
    config = {
      DNSUPDATE_NAMESERVER = "127.0.0.1:53"
      DNSUPDATE_TSIG_KEY   = "certctl."
      DNSUPDATE_TSIG_FILE  = "/etc/certctl/tsig.key"
      DNSUPDATE_TSIG_SECRET_FILE = env("TSIG_SECRET_FILE")
    }
    resolvers           = ["127.0.0.1:8053", "1.1.1.1"]
    propagation_timeout = "2m"
  }
}

issuer "acme" "webroot" {
  directory = "https://acme.example.com/directory"
  http01 {
    webroot = "/var/www/html"
  }
}

certificate "www" {
  common_name = "www.example.com"
  issuer      = issuer.pebble
  policy      = policy.web
  owner       = owner.alice
  team        = team.platform
  on_remove   = "revoke"
  validity    = "400d" # the CA decides; no issuer max_validity applies
}
