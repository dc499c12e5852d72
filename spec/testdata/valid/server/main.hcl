# The server block names the public URL of certctl watch: local CAs
# without their own URLs publish under it.
server {
  url = "https://pki.example.com/"
}

team "platform" {}

owner "alice" {
  team = team.platform
}

policy "standard" {}

issuer "local_ca" "internal" {}

issuer "local_ca" "own" {
  crl_url = "http://crl.example.com/own.crl"
}

certificate "www" {
  common_name = "www.example.com"
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}
