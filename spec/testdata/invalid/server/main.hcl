server { url = "ftp://pki.example.com" } # ERROR: Invalid URL

server { # ERROR: Duplicate server block
  url = "https://pki.example.com"
}

team "platform" {}

owner "alice" {
  team = team.platform
}

policy "standard" {}

issuer "local_ca" "internal" {}
