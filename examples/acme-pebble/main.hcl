# Certificates from an ACME CA: pebble, the ACME test server, which run.sh
# starts on loopback with pebble-challtestsrv as its DNS (every name
# resolves to 127.0.0.1). Validation is real: pebble fetches each HTTP-01
# token from the server certctl runs on http01.port while an order is open.
#
# run.sh sets CERTCTL_VAR_pebble_dir and CERTCTL_VAR_http_port and copies
# pebble's HTTPS root to pebble.minica.pem beside this file.

variable "pebble_dir" {
  default = "https://127.0.0.1:14000/dir"
}

variable "http_port" {
  default = 5002
}

team "platform" {}

owner "alice" {
  email = "alice@example.com"
  team  = team.platform
}

policy "web" {
  validity        = "90d"
  renew_before    = "30d"
  allowed_domains = ["example.com", "*.example.com"]
}

issuer "acme" "pebble" {
  directory       = var.pebble_dir
  email           = "pki@example.com"
  ca_bundle       = file("pebble.minica.pem")          # trust for the directory's HTTPS
  profile         = "default"                          # pebble's 90-day profile
  max_concurrency = 4                                  # orders in flight
  rate_limit      = { orders = 300, per = "3h" }       # Let's Encrypt's new-orders limit
  backoff         = ["1m", "10m", "100m", "24h"]       # after the 1st, 2nd, 3rd, … failure
  poll_interval   = "100ms"
  timeout         = "30s"

  http01 {
    port  = var.http_port
    iface = "127.0.0.1"
  }
}

target "file" "local" {
  dir = "out"
}
