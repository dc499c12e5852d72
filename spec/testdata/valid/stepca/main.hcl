team "platform" {}

owner "alice" {
  team = team.platform
}

policy "web" {
  validity = "30d"
}

# The encrypted key as step writes it, its password from the environment.
issuer "step_ca" "internal" {
  url                  = "https://ca.example.com:9000/"
  root                 = file("root.pem")
  provisioner          = "certctl@example.com"
  provisioner_key      = file("provisioner.jwe")
  provisioner_password = env("STEP_PASSWORD")
}

# A plain private JWK needs no password.
issuer "step_ca" "plain" {
  url             = "https://127.0.0.1:9443"
  root            = nonsensitive(file("root.pem"))
  provisioner     = "ops"
  provisioner_key = file("private.json")
}

certificate "www" {
  common_name = "www.example.com"
  issuer      = issuer.internal
  policy      = policy.web
  owner       = owner.alice
  team        = team.platform
  on_remove   = "revoke"
}
