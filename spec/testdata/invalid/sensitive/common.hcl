team "platform" {}

owner "alice" {
  team = team.platform
}

policy "standard" {}

issuer "local_ca" "internal" {}
