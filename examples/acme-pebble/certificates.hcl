certificate "www" {
  common_name = "www.example.com"
  dns_names   = ["www.example.com", "example.com"]
  issuer      = issuer.pebble
  policy      = policy.web
  owner       = owner.alice
  team        = team.platform
  targets     = [target.local]
}

certificate "api" {
  common_name = "api.example.com"
  issuer      = issuer.pebble
  policy      = policy.web
  owner       = owner.alice
  team        = team.platform
  targets     = [target.local]
  on_remove   = "revoke" # revoked at the CA when this block is deleted
}
