package main

import (
	"context"
	"log/slog"

	"github.com/mssp-tools/copilot-partner-access/functions"
	"github.com/mssp-tools/copilot-partner-access/shared/config"
)

// buildDeps builds every client once for the life of the process.
func buildDeps(ctx context.Context, cfg config.Config, logger *slog.Logger) (functions.Deps, func(), error) {
	d := functions.Deps{Config: cfg, Logger: logger}
	return d, func() {}, nil
}
