// Package program is the main function every command of the project has:
// main only calls run (STYLE.md), with a context that ends on SIGINT or
// SIGTERM, and turns run's error into a line on stderr and exit status 1.
package program

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Run is a command's run function: args are the whole command line, the
// program's name first; getenv reads the environment.
type Run func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error

// Main calls run with the process's arguments, environment and standard
// streams, and exits: status 0 when run returns nil or flag.ErrHelp (the
// usage has been printed), else 1 after printing "name: error".
func Main(name string, run Run) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// Flags adapts a run function that takes the arguments after the
// program's name.
func Flags(run Run) Run {
	return func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
		if len(args) > 0 {
			args = args[1:]
		}
		return run(ctx, args, getenv, stdout, stderr)
	}
}
