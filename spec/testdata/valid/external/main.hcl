team "t" {}

owner "o" {
  team = team.t
}

policy "p" {
  key_algorithm          = "ecdsa-p256"
  allowed_key_algorithms = ["ecdsa-p256", "rsa-2048"]
}

# Certificates issued elsewhere: monitored, never renewed.
issuer "external" "legacy" {}

certificate "old_www" {
  common_name   = "www.example.com"
  dns_names     = ["www.example.com", "example.com"]
  key_algorithm = "rsa-2048"
  issuer        = issuer.legacy
  policy        = policy.p
  owner         = owner.o
  team          = team.t
}
