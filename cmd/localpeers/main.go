// Command localpeers stands in, on a local run, for the outside parties the
// app talks to besides Graph: the Teams Workflows webhook and the
// ticketing system (both receive notifications, written here to JSON-lines
// files, ticket comments after their signature is checked), and Partner
// Center, which signs GDAP events with a certificate it serves alone, its
// issuing CA at the leaf's caIssuers URL on the same origin (the app's
// PARTNER_CENTER_CERT_HOSTS and PARTNER_CENTER_ISSUER_HOSTS). It writes the
// root of its throw-away certificate authority for the handler's
// PARTNER_CENTER_ROOTS_FILE before it starts serving.
package main

import (
	"github.com/mssp-tools/copilot-partner-access/internal/program"
)

func main() { program.Main("localpeers", program.Flags(run)) }
