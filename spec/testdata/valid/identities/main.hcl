# Certificates that name a person, a service or a mailbox: S/MIME and
# client certificates, whose policies leave out server_auth.
team "people" {}

owner "alice" {
  email = "alice@example.com"
  team  = team.people
}

policy "smime" {
  usages          = ["email_protection"]
  allowed_domains = ["example.com"]
}

policy "client" {
  usages = ["client_auth"]
}

issuer "local_ca" "people" {}

# The mailbox is added to email_addresses.
certificate "bob_mail" {
  common_name = "bob@example.com"
  issuer      = issuer.people
  policy      = policy.smime
  owner       = owner.alice
  team        = team.people
}

certificate "bob_client" {
  common_name = "Bob Example"
  issuer      = issuer.people
  policy      = policy.client
  owner       = owner.alice
  team        = team.people
}

certificate "billing_service" {
  common_name = "billing-service (prod)"
  issuer      = issuer.people
  policy      = policy.client
  owner       = owner.alice
  team        = team.people
}
