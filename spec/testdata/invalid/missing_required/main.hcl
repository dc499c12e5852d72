certificate "www" { # ERROR: Missing required argument
  common_name = "www.example.com"
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}

notifier "webhook" "hook" {} # ERROR: Missing required argument

notifier "email" "mail" { # ERROR: Missing required argument
  host = "smtp.example.com"
  from = "certctl@example.com"
}

agent "web1" {} # ERROR: Missing required argument

target "file" "out" {} # ERROR: Missing required argument

certificate "nullcn" {
  common_name = null # ERROR: Missing required argument
  issuer      = issuer.internal
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
}

variable "zone" {} # ERROR: No value for required variable
