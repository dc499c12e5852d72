// Package reconcile compares the desired state (a spec.Config) with the
// recorded state (a state.Snapshot) and carries out the difference.
//
// Entry points:
//
//   - Refresh reads the files of local targets (the only I/O before planning)
//     and returns what it Observed.
//   - Plan(cfg, snap, obs, now) is pure and deterministic: it returns an
//     ActionPlan of Changes sorted by address, Notes that need an operator
//     (failed issuance waiting for its backoff, targets awaiting an agent)
//     and a Summary.
//   - NewPlanView renders a plan as text, JSON or Markdown; WritePlanFile,
//     ReadPlanFile and ActionPlan.CheckFresh save a plan and refuse it once
//     the state or the configuration moved on.
//   - Apply(ctx, plan, cfg, deps) runs a plan: issuer actions first, then
//     certificates with bounded concurrency. Every issued certificate is
//     committed to the state store before it is deployed. A failure is
//     retried after Backoff; NewApplyView and Result.String report it.
//   - Inventory and NewShowView list certificates for `certctl show`.
//   - Notifications: Apply writes a durable row per routed notifier for each
//     event (events.go; expiry notices are notify changes, expiry.go);
//     Deliver runs the delivery sweep with retries, dead letters and drops
//     (deliver.go); the plan's QueueStatus lists dead rows with their
//     requeue command (queue.go); Status counts for `certctl status`.
//
// Action symbols, as the text view prints them (the JSON names the action):
//
//	create   "+"    a certificate or local CA that is not in the state
//	renew    "R"    same attributes, new certificate (window reached, or expired)
//	replace  "-/+"  an attribute that needs a new certificate changed
//	update   "~"    owner, team or labels changed; no new certificate
//	deploy   ">"    a target lacks the current certificate, or its files drifted
//	forget   "-"    in the state but no longer in the configuration (not revoked)
//	notify   "N"    an expiry notice is due (a notify_before threshold, or expired)
//	revoke   "x"    removed with on_remove = "revoke", or named by certctl revoke
//	                (PlanRevoke): revoked at its ACME CA or in its local CA's
//	                CRL and OCSP (package pkiserve publishes them); then
//	                forgotten, or replaced by the next plan
//
// Notes that are not changes: "!" a failed issuance waiting for its backoff,
// "@" a target that its agent deploys when it pulls, "%" an ACME issuer
// whose rate_limit does not cover its planned orders, and "!" too for a
// certificate of an external issuer that needs a hand (external.go):
// certctl monitors those but never issues them.
//
// ACME issuers (acme.go): accounts live in the state and are planned like
// issuers; RefreshRenewalInfo records the CA's renewal windows (ARI) before
// planning, so Plan stays pure; renewal times get a per-certificate jitter
// (jitter.go); rate limits defer work (ratelimit.go); PlanRenew serves
// `certctl renew`.
package reconcile
