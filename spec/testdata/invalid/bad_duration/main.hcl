policy "p" {
  validity      = "90x" # ERROR: Invalid duration
  notify_before = ["30d", "two weeks", "-1d"] # ERROR: Invalid duration
  renew_before  = "150%" # ERROR: Invalid renew_before
}

policy "q" {
  validity = "0d" # ERROR: Invalid duration
}

issuer "local_ca" "ca" {
  validity = 3650 # ERROR: Invalid duration
}

notifier "webhook" "hook" {
  url = "https://hooks.example.com/x"
  retry {
    initial  = "5 minutes" # ERROR: Invalid duration
    max      = "1h"
    attempts = 0 # ERROR: Invalid retry
  }
}
