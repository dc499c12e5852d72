# A self-contained certctl configuration: a local CA issues every
# certificate and a file target writes them to out/.
#
#   certctl validate
#   certctl plan
#   certctl apply -auto-approve
#   certctl show

certctl {
  state = ".certctl/state.db"
}

team "platform" {}

owner "alice" {
  email = "alice@example.com"
  team  = team.platform
}

policy "internal" {
  validity        = "90d"
  renew_before    = "33%"
  key_algorithm   = "ecdsa-p256"
  usages          = ["server_auth"]
  allowed_domains = ["example.internal", "*.example.internal"]
  notify_before   = ["30d", "14d", "7d", "0d"]
}

issuer "local_ca" "internal" {
  common_name   = "Example Internal CA"
  validity      = "3650d"
  key_algorithm = "ecdsa-p384"
}

target "file" "out" {
  dir = "out"
}
