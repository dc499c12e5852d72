certificate "www" { # ERROR: Duplicate certificate
  common_name = "www2.example.com"
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}

policy "strict" {} # ERROR: Duplicate policy


locals {
  a = 1
}

locals {
  a = 2 # ERROR: Duplicate local value
}
