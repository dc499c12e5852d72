team "t" {}

owner "o" {
  team = team.t
}

policy "p" {}

issuer "external" "legacy" {
  directory = "https://acme.example.com/dir" # ERROR: Unsupported argument
}
