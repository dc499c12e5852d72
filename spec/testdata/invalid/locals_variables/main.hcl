variable "count" {
  type    = number
  default = "many" # ERROR: Invalid default value for variable
}

variable "flag" { # ERROR: No value for required variable
  type = bool
}

locals {
  a = local.b
  b = local.c
  c = local.a # ERROR: Cycle in local values
  self = local.self # ERROR: Cycle in local values
  d = local.bb # ERROR: Reference to undeclared local value
  e = var.flg # ERROR: Reference to undeclared variable
  f = each.key # ERROR: Reference to "each" without for_each
  g = env("CERTCTL_UNSET_VARIABLE") # ERROR: Invalid function argument
}
