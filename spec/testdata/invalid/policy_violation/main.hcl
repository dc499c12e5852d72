team "platform" {}

owner "alice" {
  team = team.platform
}

policy "standard" {
  validity               = "90d"
  max_validity           = "100d"
  allowed_key_algorithms = ["ecdsa-p256", "ecdsa-p384"]
  allowed_domains        = ["example.com", "*.example.com", ".corp.example.net"]
}

policy "long" {
  validity = "400d"
}

policy "inconsistent" {
  validity      = "30d" # ERROR: Validity exceeds maximum
  max_validity  = "20d"
  key_algorithm = "rsa-2048" # ERROR: Key algorithm not allowed
  allowed_key_algorithms = ["ed25519"]
  renew_before  = "40d" # ERROR: Invalid renew_before
}

issuer "local_ca" "internal" {
  max_validity = "397d"
}

issuer "local_ca" "tiny" {
  validity     = "30d"
  max_validity = "31d" # ERROR: Validity exceeds maximum
}

certificate "outside" {
  common_name = "www.example.org" # ERROR: Domain not allowed by policy
  dns_names = [
    "www.example.com",
    "a.b.example.com", # ERROR: Domain not allowed by policy
    "*.example.com",
    "x.y.corp.example.net",
    "corp.example.net", # ERROR: Domain not allowed by policy
  ]
  ip_addresses = ["10.0.0.1"]
  issuer       = issuer.internal
  policy       = policy.standard
  owner        = owner.alice
  team         = team.platform
}

certificate "key" {
  common_name   = "key.example.com"
  key_algorithm = "rsa-4096" # ERROR: Key algorithm not allowed by policy
  validity      = "101d" # ERROR: Validity exceeds maximum
  issuer        = issuer.internal
  policy        = policy.standard
  owner         = owner.alice
  team          = team.platform
}

certificate "from_policy" {
  common_name = "long.example.com"
  issuer      = issuer.internal # ERROR: Validity exceeds maximum
  policy      = policy.long
  owner       = owner.alice
  team        = team.platform
}

certificate "over_issuer" {
  common_name = "over.example.com"
  validity    = "398d" # ERROR: Validity exceeds maximum
  issuer      = issuer.internal
  policy      = policy.long
  owner       = owner.alice
  team        = team.platform
}
