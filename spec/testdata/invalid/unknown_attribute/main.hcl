certificate "www" { # ERROR: Missing required argument
  comon_name = "www.example.com" # ERROR: Unsupported argument
  issuer     = issuer.internal
  policy     = policy.standard
  owner      = owner.alice
  team       = team.platform
  deploy {} # ERROR: Unsupported block type
}

certficate "api" {} # ERROR: Unsupported block type

version = 2 # ERROR: Unsupported argument

notifier "slack" "chat" {
  url     = "https://hooks.slack.com/services/x"
  headers = { a = "b" } # ERROR: Unsupported argument
}
