# The test asserts that the value of SECRET_HOST and SECRET_WEBHOOK_PATH
# appear nowhere in the formatted diagnostics.
locals {
  secret_host = env("SECRET_HOST")
  settings = {
    token = env("SECRET_WEBHOOK_PATH")
    host  = "hooks.example.com"
  }
}

notifier "webhook" "hook" {
  url = "ftp://${local.settings.host}/${local.settings.token}" # ERROR: Invalid URL
}

notifier "email" "mail" {
  host = "smtp.example.com"
  from = env("SECRET_HOST") # ERROR: Invalid email address
  to   = ["ops@example.com"]
  tls  = env("SECRET_WEBHOOK_PATH") # ERROR: Unsupported TLS mode
}

certificate "www" {
  common_name = "${local.secret_host}.example.com" # ERROR: Sensitive value not allowed
  dns_names   = [local.settings.hostname] # ERROR: Unsupported attribute
  labels      = { token = local.settings.token } # ERROR: Sensitive value not allowed
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}

policy "secret" {
  validity = env("SECRET_HOST") # ERROR: Sensitive value not allowed
}
