// Package reliability proves, under stress, the promises DESIGN.md makes
// about delivery: an event applied once however often it comes, nothing
// lost when storage, Graph or a webhook fails or the handler dies, and
// nothing an outsider sends changing a grant or widening privilege.
//
// It drives the product as it runs: the handler binary built from the
// repository, started as the Functions host starts it, alone (invoked in
// the host's Service Bus shapes, with redelivery done here as the host
// would) or under the local host (cmd/devhost, which feeds it from the
// storage queues and restarts it when it dies); Azurite for tables and
// queues; graphsim for Graph; and sinks for the Teams and ticket webhooks.
// Every request the handler makes goes through a reverse proxy that can
// inject faults (503, 429 with Retry-After, a reset connection, 2 s of
// latency) from a seeded PRNG, and that notes the credentials it sees so
// that no output may repeat them.
//
// Four scenarios each end in a Result of figures and invariant violations:
//
//   - duplicates: every event delivered three times, two copies at once;
//   - faults: every event delivered until it succeeds (at most
//     maxDeliveryCount times) while a share of all requests fails;
//   - crashes: the handler killed with SIGKILL at random points while the
//     local host feeds it from the queue;
//   - hostile: oversized bodies, replayed, expired, forged and re-signed
//     webhooks, Global Administrator and unknown roles whatever
//     ALLOWED_ROLES says, and a scan of every output for secrets.
//
// A violation is a broken promise: an event that did not reach its final
// state, a second state change, role assignment or notification, a lost
// notification. The checks read the final state from the stores
// themselves (the Grants table, graphsim's directory and mails, the
// sinks), never from the handler's own account of what it did, and they
// never depend on a time. `make reliability` runs the full version
// (cmd/reliability); the package's tests run a small one.
package reliability
