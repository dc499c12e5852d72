team "platform" {}

owner "alice" {
  team = team.platform
}

policy "web" {
  allowed_key_algorithms = ["ecdsa-p256", "ed25519"]
}

issuer "acme" "plain_http" {
  directory = "http://acme.example.com/dir" # ERROR: Invalid directory URL
  email     = "not an address" # ERROR: Invalid email address
  http01 {}
}

issuer "acme" "no_challenge" { # ERROR: Missing challenge
  directory = "https://acme.example.com/dir"
}

issuer "acme" "both" {
  directory = "https://acme.example.com/dir"
  http01 {
    port = 80
  }
  dns01 { # ERROR: Conflicting challenges
    provider = "cloudflare"
  }
}

issuer "acme" "dns" {
  directory = "https://acme.example.com/dir"
  dns01 {
    provider  = "cloudflair" # ERROR: Unsupported DNS provider
    resolvers = ["127.0.0.1:99999"] # ERROR: Invalid resolver
  }
}

issuer "acme" "settings" {
  directory       = "https://acme.example.com/dir"
  ca_bundle       = "not a PEM file" # ERROR: Invalid CA bundle
  max_concurrency = 0 # ERROR: Invalid number
  rate_limit      = { orders = 0, per = "3h" } # ERROR: Invalid rate limit
  backoff         = ["1m", "-5m"] # ERROR: Invalid duration
  timeout         = "0s" # ERROR: Invalid duration
  dns01 {
    provider = "cloudflare"
    config = {
      CLOUDFLARE_DNS_API_TOKN = env("SECRET_HOST") # ERROR: Unknown provider setting
      "CLOUDFLARE_TTL"        = "120"
      "CLOUDFLARE_TTX"        = "120" # ERROR: Unknown provider setting
    }
  }
}

issuer "acme" "http" {
  directory = nonsensitive(env("SECRET_HOST")) # ERROR: Invalid directory URL
  email     = env("SECRET_WEBHOOK_PATH") # ERROR: Sensitive value not allowed
  http01 {
    port    = 70000 # ERROR: Invalid number
    webroot = "/var/www" # ERROR: Conflicting arguments
  }
  eab {
    kid      = "k"
    hmac_key = "not base64!" # ERROR: Invalid external account binding
  }
}

certificate "edwards" {
  common_name   = "ed.example.com"
  key_algorithm = "ed25519" # ERROR: Key algorithm not supported by issuer
  issuer        = issuer.ok
  policy        = policy.web
  owner         = owner.alice
  team          = team.platform
}

issuer "acme" "ok" {
  directory = "https://acme.example.com/dir"
  ca_bundle = file("ca.pem")
  http01 {
    port = 80
  }
}
