locals {
  services = {
    api    = "api.example.internal"
    auth   = "auth.example.internal"
    status = "status.example.internal"
  }
}

# One certificate per service: certificate.services["api"], ...
certificate "services" {
  for_each    = local.services
  common_name = each.value
  dns_names   = [each.value]
  issuer      = issuer.internal
  policy      = policy.internal
  owner       = owner.alice
  team        = team.platform
  targets     = [target.out]
  labels      = { service = each.key }
}

certificate "www" {
  common_name = "www.example.internal"
  dns_names   = ["www.example.internal", "example.internal"]
  issuer      = issuer.internal
  policy      = policy.internal
  owner       = owner.alice
  team        = team.platform
  targets     = [target.out]
  labels      = { env = "prod" }
}

certificate "wildcard" {
  common_name = "*.example.internal"
  dns_names   = ["*.example.internal"]
  issuer      = issuer.internal
  policy      = policy.internal
  owner       = owner.alice
  team        = team.platform
  targets     = [target.out]
}
