team "people" {}

owner "alice" {
  team = team.people
}

policy "tls" {}

policy "smime" {
  usages          = ["email_protection"]
  allowed_domains = ["example.com"]
}

issuer "local_ca" "people" {}

issuer "acme" "le" {
  directory = "https://acme.example.com/directory"
  email     = "pki@example.com"
  http01 {}
}

certificate "tls_person" {
  common_name = "Bob Example" # ERROR: Invalid common name
  issuer      = issuer.people
  policy      = policy.tls
  owner       = owner.alice
  team        = team.people
}

certificate "tls_mailbox" {
  common_name = "bob@example.com" # ERROR: Invalid common name
  issuer      = issuer.people
  policy      = policy.tls
  owner       = owner.alice
  team        = team.people
}

certificate "other_domain" {
  common_name = "bob@example.org" # ERROR: Domain not allowed by policy
  issuer      = issuer.people
  policy      = policy.smime
  owner       = owner.alice
  team        = team.people
}

certificate "bad_mailbox" {
  common_name = "Bob <bob@example.com>" # ERROR: Invalid email address
  issuer      = issuer.people
  policy      = policy.smime
  owner       = owner.alice
  team        = team.people
}

certificate "control" {
  common_name = "Bob\tExample" # ERROR: Invalid common name
  issuer      = issuer.people
  policy      = policy.smime
  owner       = owner.alice
  team        = team.people
}

certificate "acme_person" {
  common_name = "Bob Example" # ERROR: Invalid common name
  issuer      = issuer.le
  policy      = policy.smime
  owner       = owner.alice
  team        = team.people
}
