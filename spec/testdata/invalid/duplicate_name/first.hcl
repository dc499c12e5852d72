certificate "www" {
  common_name = "www.example.com"
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}

policy "strict" {}

team "platform" {} # ERROR: Duplicate team

issuer "local_ca" "internal" {} # ERROR: Duplicate issuer
