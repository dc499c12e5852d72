certctl {
  state = ".certctl/state.db"
}

variable "domain" {
  type        = string
  default     = "example.com"
  description = "The zone all names live in."
}

# Overridden by CERTCTL_VAR_region in the test.
variable "region" {
  default = "us"
}

variable "validity_days" {
  type    = number
  default = 90
}

locals {
  # Defined before the locals it uses, to exercise dependency order.
  wildcard = "*.${local.zone}"
  zone     = var.domain
  sites = {
    api  = "api.${local.zone}"
    shop = "shop.${local.zone}"
  }
  regional = "${var.region}.${local.zone}"
}

team "platform" {
  notifiers = [notifier.ops]
}

owner "alice" {
  email     = "alice@example.com"
  team      = team.platform
  notifiers = [notifier.mail]
}

policy "standard" {
  validity               = "${var.validity_days}d"
  renew_before           = "33%"
  key_algorithm          = "ecdsa-p256"
  allowed_key_algorithms = ["ecdsa-p256", "rsa-2048"]
  allowed_domains        = [local.zone, local.wildcard, ".internal.example.com", "bücher.example"]
}

policy "short" {
  validity      = "1d12h"
  max_validity  = "2d"
  renew_before  = "12h"
  usages        = ["server_auth", "client_auth"]
  notify_before = ["1d", "0d"]

  subject_common_name = false
}

issuer "local_ca" "internal" {
  common_name   = "Example Internal CA"
  validity      = "3650d"
  key_algorithm = "ecdsa-p384"
  max_validity  = "397d"
}

issuer "local_ca" "defaults" {}
