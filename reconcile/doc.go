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
//
// Action symbols, as the text view prints them (the JSON names the action):
//
//	create   "+"    a certificate or local CA that is not in the state
//	renew    "R"    same attributes, new certificate (window reached, or expired)
//	replace  "-/+"  an attribute that needs a new certificate changed
//	update   "~"    owner, team or labels changed; no new certificate
//	deploy   ">"    a target lacks the current certificate, or its files drifted
//	forget   "-"    in the state but no longer in the configuration (not revoked)
//
// Notes that are not changes: "!" a failed issuance waiting for its backoff,
// "@" a target that its agent deploys when it pulls.
package reconcile
