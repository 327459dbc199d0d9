// Command graphsim serves the Microsoft Graph simulator (package
// shared/graphsim) for local runs: point the app at it with
// GRAPH_BASE_URL=http://127.0.0.1:8090/v1.0 and GRAPH_AUTH=none.
//
// Usage:
//
//	graphsim [-addr 127.0.0.1:8090] [-seed seed.json] [-v]
//	         [-activation-delay 20s] [-replication-delay 10s]
//	         [-auto-extend-delay 1h] [-termination-delay 10s]
//
// Without -seed it loads an embedded demo: the partner tenant Fabrikam
// (11112222-3333-4444-5555-666677778888) with a SOC security group, a
// mailbox and an active GDAP relationship, and the customer tenant Contoso
// (aaaabbbb-0000-cccc-1111-dddd2222eeee) with an admin and a Fabrikam
// guest; the partner's verified domain is fabrikam.example. The delays are
// how long Microsoft takes to activate an approved relationship, to
// replicate a new guest, to show an auto-extension after the end date and
// to finish a termination (graphsim.Delays); all default to 0, and
// scripts/run-local.sh sets short ones so that the app is seen waiting.
// GRAPHSIM_ADDR and GRAPHSIM_SEED set the flags' defaults. It prints
// its Graph base URL on stdout, logs JSON to stderr, and stops cleanly on
// SIGINT or SIGTERM.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/program"
	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
)

//go:embed demo-seed.json
var demoSeed []byte

func main() { program.Main("graphsim", run) }

// run serves the simulator until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	name := "graphsim"
	if len(args) > 0 {
		name, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	defAddr := getenv("GRAPHSIM_ADDR")
	if defAddr == "" {
		defAddr = "127.0.0.1:8090"
	}
	addr := fs.String("addr", defAddr, "listen address")
	seedPath := fs.String("seed", getenv("GRAPHSIM_SEED"), "seed JSON file (default: the embedded Fabrikam/Contoso demo)")
	verbose := fs.Bool("v", false, "log every Graph request")
	var delays graphsim.Delays
	fs.DurationVar(&delays.Activation, "activation-delay", 0, "time from the customer's approval to an active relationship (approved, then activating)")
	fs.DurationVar(&delays.Replication, "replication-delay", 0, "time a new guest is invisible to reads and role assignment after its invitation")
	fs.DurationVar(&delays.AutoExtend, "auto-extend-delay", 0, "time after its end before an auto-extended relationship shows its new end")
	fs.DurationVar(&delays.Termination, "termination-delay", 0, "time from an accepted terminate to a terminated relationship")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	handler := slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	log := slog.New(handler).With("component", "graphsim")

	data, source := demoSeed, "embedded demo"
	if *seedPath != "" {
		var err error
		if data, err = os.ReadFile(*seedPath); err != nil {
			return fmt.Errorf("read seed: %w", err)
		}
		source = *seedPath
	}
	seed, err := graphsim.ParseSeed(data)
	if err != nil {
		return fmt.Errorf("%s: %w", source, err)
	}
	sim := graphsim.New(seed)
	if err := sim.SetDelays(delays); err != nil {
		return err
	}
	sim.SetLogger(log)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           sim,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(handler, slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	base := "http://" + ln.Addr().String() + "/v1.0"
	log.Info("listening", "addr", ln.Addr().String(), "baseURL", base, "seed", source,
		"partnerTenantId", seed.Partner.ID, "customers", len(seed.Customers),
		"activationDelay", delays.Activation.String(), "replicationDelay", delays.Replication.String(),
		"autoExtendDelay", delays.AutoExtend.String(), "terminationDelay", delays.Termination.String())
	fmt.Fprintln(stdout, base)

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
