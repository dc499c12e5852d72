notifier "slack" "ops" {
  url = "https://hooks.slack.com/services/x"
}

team "security" {
  notifiers = [notifier.opz] # ERROR: Unknown notifier
}

owner "bob" {
  team = team.nobody # ERROR: Unknown team
}

target "file" "web" {
  agent = agent.web1 # ERROR: Unknown agent
  dir   = "out"
}

certificate "www" {
  common_name = "www.example.com"
  issuer      = issuer.internl # ERROR: Unknown issuer
  policy      = team.platform # ERROR: Invalid reference
  owner       = owner.alice
  team        = "platform" # ERROR: Invalid reference
  targets     = [target.web, target.db] # ERROR: Unknown target
}

certificate "api" {
  common_name = "api.example.com"
  issuer      = issuer.internal.x # ERROR: Invalid reference
  policy      = policy.standard
  owner       = owner.alice
  team        = team.platform
  notifiers   = [notifier.ops, notifier.ops] # ERROR: Duplicate reference
}
