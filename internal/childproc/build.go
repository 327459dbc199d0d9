package childproc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Build runs `go build <flags> -o out pkg` in dir (the repository root
// for the project's programs), with env added to the environment, so that
// the child is the program as it is deployed rather than an in-process
// copy. The error carries the compiler's output.
func Build(ctx context.Context, dir, out, pkg string, env []string, flags ...string) error {
	args := append(append([]string{"build"}, flags...), "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}
