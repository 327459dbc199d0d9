package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mssp-tools/copilot-partner-access/functions"
	"github.com/mssp-tools/copilot-partner-access/shared/config"
)

// shutdownGrace is how long in-flight invocations get after SIGTERM. The
// host stops sending new ones first; a message whose invocation is cut
// short is redelivered, so nothing is lost past this.
const shutdownGrace = 20 * time.Second

// run reads the configuration once, builds every client once, and serves
// the functions on FUNCTIONS_CUSTOMHANDLER_PORT until ctx ends.
//
// The configuration is read from the process environment
// (envconfig.Process, see shared/config); getenv is os.Getenv in
// production and must agree with the process environment for every
// variable the app reads, or run refuses to start naming the first that
// differs: tests set the environment with t.Setenv and pass os.Getenv.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	if err := config.CheckGetenv(getenv); err != nil {
		return err
	}
	cfg, err := config.Load(ctx)
	if err != nil {
		// One line, naming the variable(s): the host shows it as the
		// reason the worker did not start.
		return errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	// What runs with less than it could, or with more privilege than it
	// should: one line each.
	for _, w := range cfg.Warnings() {
		logger.Warn(w.Message, "variable", w.Variable)
	}
	deps, closeDeps, err := buildDeps(ctx, cfg, logger)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer closeDeps()

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen on FUNCTIONS_CUSTOMHANDLER_PORT %d: %w", cfg.Port, err)
	}
	srv := &http.Server{
		Handler:           functions.Routes(deps),
		ReadHeaderTimeout: 10 * time.Second,
		// The host's own functionTimeout bounds an invocation; this only
		// guards against a peer that stops reading.
		WriteTimeout: 10 * time.Minute,
		ErrorLog:     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("listening", "addr", ln.Addr().String())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
