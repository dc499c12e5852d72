issuer "vault" "v" {} # ERROR: Unsupported issuer type

issuer "local-ca" "l" {} # ERROR: Unsupported issuer type

notifier "sms" "n" {} # ERROR: Unsupported notifier type

target "s3" "bucket" {} # ERROR: Unsupported target type
