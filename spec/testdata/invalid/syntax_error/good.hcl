# This file parses, but refers to things that do not exist. Its errors must
# not be reported: loading stops after syntax errors.
certificate "www" {
  common_name = "www.example.com"
  issuer      = issuer.nope
  policy      = policy.nope
  owner       = owner.nope
  team        = team.nope
}
