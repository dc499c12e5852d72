// Package agent is certctl's agent side: the control-plane handlers that
// `certctl watch` serves to agents (NewServer, Server.Handler,
// Server.Observe), and the agent runtime that `certctl agent` runs on a
// host (Run).
//
// The protocol is JSON over HTTP(S) under /api/v1/agents/{name}/:
//
//	GET  deployments  the targets bound to the agent, with certificates
//	                  and CSR requests; ETag/If-None-Match and ?wait=30s
//	                  long-poll
//	POST csr          a CSR for a certificate the agent keeps the key of
//	POST reports      the outcome of deploying to its targets
//
// Every request carries `Authorization: Bearer TOKEN`; the configuration
// holds only the token's SHA-256 (agent "web1" { token_sha256 = ... }).
// An agent reads and writes only its own deployments.
//
// The server answers GETs from a view rebuilt after each reconcile pass,
// never from the state: the state is not held open between passes (other
// certctl processes use it). CSRs and reports are written to the state
// by one writer goroutine that opens it briefly for a batch of requests
// and then asks the watcher for a pass (see writer.go): the agent gets
// its 202/204 only once its data is durable, so a server restart loses
// nothing an agent was told was accepted.
package agent
