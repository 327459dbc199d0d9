// Command accessctl is the operator's tool for a local run (and for a
// deployment's HTTP API): it signs and sends ticketing commands, lists
// grants and their audit trail, asks the advisor, and, against a local run
// only, triggers the sweep, moves the clock and shows the simulated mail.
//
//	accessctl request b2b -customer <tenant> -email analyst@fabrikam.example -roles "Security Operator" -days 30
//	accessctl grants -customer <tenant>
//	accessctl time +89d && accessctl sweep
package main

import (
	"github.com/mssp-tools/copilot-partner-access/internal/program"
)

func main() { program.Main("accessctl", program.Flags(run)) }
