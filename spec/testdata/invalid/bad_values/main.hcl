owner "bob" {
  email = "Bob <bob@example.com>" # ERROR: Invalid email address
  team  = team.platform
}

notifier "email" "mail" {
  host   = "smtp.example.com"
  port   = 70000 # ERROR: Invalid port
  from   = "certctl@example.com"
  to     = ["ops@example.com", "not-an-address"] # ERROR: Invalid email address
  tls    = "ssl" # ERROR: Unsupported TLS mode
  events = ["issued", "exploded"] # ERROR: Unsupported event
}

notifier "webhook" "hook" {
  url = "hooks.example.com/x" # ERROR: Invalid URL
}

policy "p" {
  key_algorithm = "rsa-1024" # ERROR: Unsupported key algorithm
  usages        = ["server_auth", "code_signing"] # ERROR: Unsupported usage

  subject_common_name = "no" # ERROR: Invalid subject_common_name
}

target "file" "out" {
  dir       = "out"
  file_mode = "rw-r--r--" # ERROR: Invalid file mode
}

certificate "www" {
  common_name     = "www.example.com"
  ip_addresses    = ["10.0.0.1", "10.0.0.256", "::1", "0:0:0:0:0:0:0:1"] # ERROR: Invalid IP address # ERROR: Duplicate SAN
  email_addresses = ["ops@example.com", "ops@"] # ERROR: Invalid email address
  labels          = ["a"] # ERROR: Incorrect attribute value type
  on_remove       = "delete" # ERROR: Unsupported on_remove value
  key_algorithm   = "ecdsa-p512" # ERROR: Unsupported key algorithm
  issuer          = issuer.internal
  policy          = policy.standard
  owner           = owner.alice
  team            = team.platform
}
