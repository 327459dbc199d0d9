// Command handler is the Azure Functions custom handler of the partner
// access app: an HTTP server that the Functions host starts and invokes for
// every trigger (Service Bus queues, the expiry timer, HTTP webhooks and
// views). See DESIGN.md beside the project and README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "handler:", err)
		os.Exit(1)
	}
}
