agent "web1" {
  token_sha256 = "9f86d0" # ERROR: Invalid token hash
}

agent "web2" {
  token_sha256 = "zz86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" # ERROR: Invalid token hash
}

agent "web3" {
  token_sha256 = env("AGENT_TOKEN") # ERROR: Invalid token hash
}

agent "bad name!" {} # ERROR: Invalid name
