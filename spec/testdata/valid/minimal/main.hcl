team "t" {}

owner "o" {
  team = team.t
}

policy "p" {}

issuer "local_ca" "ca" {}

certificate "c" {
  common_name = "localhost"
  issuer      = issuer.ca
  policy      = policy.p
  owner       = owner.o
  team        = team.t
}
