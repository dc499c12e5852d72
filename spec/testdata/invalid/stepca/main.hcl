issuer "step_ca" "http" {
  url                  = "http://ca.example.com" # ERROR: Invalid step-ca URL
  root                 = "not a PEM file" # ERROR: Invalid root
  provisioner          = ""  # ERROR: Invalid provisioner
  provisioner_key      = env("SECRET_HOST") # ERROR: Invalid provisioner key
  provisioner_password = env("STEP_PASSWORD")
}

issuer "step_ca" "path" {
  url                  = "https://ca.example.com/acme/x" # ERROR: Invalid step-ca URL
  root                 = file("provisioner.jwe") # ERROR: Invalid root
  provisioner          = "p"
  provisioner_key      = file("public.json") # ERROR: Invalid provisioner key
}

issuer "step_ca" "nopass" {
  url             = "https://ca.example.com"
  root            = file("root.pem")
  provisioner     = "p"
  provisioner_key = file("provisioner.jwe") # ERROR: Missing provisioner password
}

issuer "step_ca" "emptypass" {
  url                  = "https://ca.example.com"
  root                 = file("root.pem")
  provisioner          = "p"
  provisioner_key      = file("provisioner.jwe")
  provisioner_password = "" # ERROR: Invalid provisioner password
}

issuer "step_ca" "secret_url" {
  url             = env("SECRET_HOST") # ERROR: Sensitive value not allowed
  root            = file("root.pem")
  provisioner     = "p"
  provisioner_key = file("provisioner.jwe")
  provisioner_password = "pw"
}

issuer "step_ca" "missing" { # ERROR: Missing required argument
  url  = "https://ca.example.com"
  root = file("root.pem")
  provisioner_key = file("provisioner.jwe")
  provisioner_password = "pw"
}
