team "platform" {
  notifiers = [notifier.a notifier.b] # ERROR: Missing item separator
}
