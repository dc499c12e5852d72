certificate "www" {
  common_name = "www.example.com."  # ERROR: Invalid common name
  dns_names = [
    "under_score.example.com",      # ERROR: Invalid DNS name
    "*.*.example.com",              # ERROR: Invalid DNS name
    "www.*.example.com",            # ERROR: Invalid DNS name
    "a..example.com",               # ERROR: Invalid DNS name
    "-lead.example.com",            # ERROR: Invalid DNS name
    "trail-.example.com",           # ERROR: Invalid DNS name
    "${join("", [for i in range(64) : "a"])}.example.com", # ERROR: Invalid DNS name
    "${join(".", [for i in range(130) : "a"])}", # ERROR: Invalid DNS name
    "192.0.2.1",                    # ERROR: Invalid DNS name
    "*.com",                        # ERROR: Invalid DNS name
    "",                             # ERROR: Invalid DNS name
    "xn--zz.example.com",           # ERROR: Invalid DNS name
    "fine.example.com",
    "FINE.example.com",             # ERROR: Duplicate SAN
    "bücher.example",
  ]
  issuer = issuer.internal
  policy = policy.standard
  owner  = owner.alice
  team   = team.platform
}

certificate "long" {
  common_name = "a-very-long-host-name-that-is-fine-for-dns.but-not-for-a-common-name.example.com" # ERROR: Common name too long
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}

policy "narrow" {
  allowed_domains = ["example.com", "*.*.example.com"] # ERROR: Invalid domain pattern
}
