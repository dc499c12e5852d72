notifier "webhook" "ops" {
  url     = env("OPS_WEBHOOK")
  headers = { Authorization = "Bearer ${trimspace(file("token.txt"))}", X-Source = "certctl" }
  events  = ["issued", "failed", "expiring"]
  retry {
    initial  = "30s"
    max      = "30m"
    attempts = 3
  }
}

notifier "email" "mail" {
  host     = "smtp.example.com"
  port     = 587
  from     = "certctl@example.com"
  to       = ["pki@example.com", "ops@example.com"]
  username = "certctl"
  password = env("SMTP_PASSWORD")
  tls      = "starttls"
}

notifier "slack" "chat" {
  url = "https://hooks.slack.com/services/T000/B000/XXXX"
}

notifier "pagerduty" "pager" {
  routing_key = env("PD_KEY")
}

notifier "opsgenie" "genie" {
  api_key = sha256(env("PD_KEY"))
}

notifier "teams" "msteams" {
  url = "https://example.webhook.office.com/webhookb2/x"
}

agent "web1" {
  token_sha256 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
}

agent "web2" {
  token_sha256 = sha256(env("AGENT_TOKEN"))
}

target "file" "web1_nginx" {
  agent     = agent.web1
  dir       = "/etc/nginx/tls"
  validate  = "nginx -t"
  reload    = "nginx -s reload"
  file_mode = "0640"
  key_mode  = "0400"
}

target "file" "local" {
  dir = "out"
}
