locals {
  names = ["a", "b", "a"]
}

team "many" {
  for_each = toset(["a", "b"]) # ERROR: Unsupported for_each
}

certificate "str" {
  for_each    = "www.example.com" # ERROR: Invalid for_each argument
  common_name = "x.example.com"
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}

certificate "badkey" {
  for_each    = { "a b" = "ab.example.com" } # ERROR: Invalid for_each key
  common_name = each.value
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}

certificate "dups" {
  for_each    = local.names # ERROR: Duplicate for_each key
  common_name = "${each.key}.example.com"
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}

certificate "plain" {
  common_name = "${each.key}.example.com" # ERROR: Reference to "each" without for_each
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}

certificate "nums" {
  for_each    = [1, 2] # ERROR: Invalid for_each argument
  common_name = "n.example.com"
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}

certificate "secret_keys" {
  for_each    = toset([env("SECRET_HOST")]) # ERROR: Invalid for_each argument
  common_name = "s.example.com"
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}

certificate "instances" {
  for_each    = { good = "good.example.com", bad = "bad_name.example.com" }
  common_name = each.value # ERROR: Invalid common name
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}

# A static error in a for_each block is reported once, not per instance;
# the test checks that count.
certificate "static" {
  for_each    = toset(["a", "b", "c"])
  common_name = "${each.key}.example.com"
  validity    = "90x" # ERROR: Invalid duration
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}
