// Command devhost is a small local Azure Functions host for the app's
// custom handler, standing in for Core Tools (`func start`), which cannot
// be installed offline.
//
// It reads host.json and functions/*/function.json, starts the handler
// binary as the real host does (FUNCTIONS_CUSTOMHANDLER_PORT, ready once
// GET / answers 200, restarted when it dies), and invokes it in the real
// host's payload shapes:
//
//   - serviceBusTrigger functions are fed from the Azure Storage queues of
//     the same names on Azurite (LOCAL_QUEUES_CONNECTION_STRING), the local
//     stand-in for Service Bus: a 2xx answer completes a message, anything
//     else abandons it for redelivery with a growing delivery count, and
//     after -max-delivery-count deliveries it moves to <queue>-poison, as
//     Service Bus dead-letters it;
//   - timerTrigger functions fire on their six-field NCRONTAB schedule, or
//     at once on POST /admin/functions/<name>;
//   - httpTrigger functions are served on http://<addr>/api/<route>.
//
// Each invocation is logged on one slog JSON line on stderr (function,
// invocation id, trigger, outcome, status, duration, delivery count); the
// handler's own output is forwarded with a "[handler] " prefix. SIGINT or
// SIGTERM stops polling, lets running invocations finish (bounded by
// -shutdown-timeout) and stops the handler with SIGTERM, then SIGKILL.
//
// Usage, from the repository root (Azurite running, local.settings.json
// copied from local.settings.local.sample.json, the Azurite and simulator
// mode; local.settings.sample.json is the real-services mode of Core Tools,
// `make func-start`):
//
//	go build -o handler . && go run ./cmd/devhost
//
// Flags:
//
//	-root DIR               the app folder with host.json (default ".")
//	-handler PATH           the handler binary (default: host.json's
//	                        customHandler.description.defaultExecutablePath)
//	-addr HOST:PORT         where HTTP functions and /admin are served
//	                        (default 127.0.0.1:7071)
//	-settings FILE          a local.settings.json whose Values go into the
//	                        handler's environment, over the process's
//	                        (default: <root>/local.settings.json if present)
//	-max-delivery-count N   deliveries before a message is poisoned (10)
//	-retry-delay D          wait before a failed message's redelivery (1s)
//	-start-timeout D        how long the handler may take to be ready (30s)
//	-shutdown-timeout D     how long running invocations may finish (30s)
//	-stop-grace D           SIGTERM to SIGKILL for the handler (10s)
//
// Function keys are not checked, as with Core Tools.
package main

import (
	"github.com/mssp-tools/copilot-partner-access/internal/program"
)

func main() { program.Main("devhost", run) }
