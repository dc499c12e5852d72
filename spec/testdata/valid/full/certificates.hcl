certificate "www" {
  common_name     = "www.example.com"
  dns_names       = ["www.example.com", "example.com", "WWW2.Example.COM", "bücher.example"]
  ip_addresses    = ["192.0.2.10", "2001:db8::1"]
  email_addresses = ["webmaster@example.com"]
  issuer          = issuer.internal
  policy          = policy.standard
  owner           = owner.alice
  team            = team.platform
  targets         = [target.web1_nginx, target.local]
  notifiers       = [notifier.ops, notifier.chat]
  labels          = { env = "prod", tier = "${upper("web")}", replicas = 3 }
  key_algorithm   = "rsa-2048"
  validity        = "30d"
  on_remove       = "revoke"
}

# for_each over a map: each.value is the name.
certificate "sites" {
  for_each    = local.sites
  common_name = each.value
  dns_names   = [each.value, "${each.key}.internal.example.com"]
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
  labels      = { site = each.key }
}

# for_each over a set: each.key == each.value.
certificate "svc" {
  for_each    = toset(["a", "b.c", "d-e"])
  common_name = "${each.key}.internal.example.com"
  issuer      = issuer.defaults
  policy      = policy.short
  owner       = owner.alice
  team        = team.platform
}

# Names read from a file are sensitive until declared otherwise.
certificate "from_file" {
  common_name = "files.example.com"
  dns_names   = nonsensitive(compact(split("\n", file("names.txt"))))
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}

certificate "regional" {
  common_name = local.regional
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}
