package childproc

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestStartAndExit(t *testing.T) {
	done := make(chan error, 1)
	cmd := exec.Command("sh", "-c", "exit 3")
	p, err := Start(cmd, syscall.SIGKILL, func(err error) { done <- err })
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Fatalf("exited with %v, want exit status 3", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("exited was not called")
	}
	<-p.Done()
	if !p.Exited() || ExitText(p.Err()) != "exit status 3" {
		t.Errorf("Exited, Err = %v, %v; want true, exit status 3", p.Exited(), p.Err())
	}
	called := false
	if _, err := Start(exec.Command("/no/such/program"), syscall.SIGKILL, func(error) { called = true }); err == nil || called {
		t.Fatalf("a program that cannot start: got %v (exited called: %v), want an error and no call", err, called)
	}
}

// TestChildDiesWithParent starts this test binary as a parent that starts a
// long sleep through Start, kills the parent with SIGKILL, and checks that
// the sleep is gone too.
func TestChildDiesWithParent(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux's")
	}
	if os.Getenv("CHILDPROC_PARENT") == "1" {
		cmd := exec.Command("sleep", "60")
		if _, err := Start(cmd, syscall.SIGKILL, nil); err != nil {
			os.Exit(2)
		}
		os.Stdout.WriteString(strconv.Itoa(cmd.Process.Pid) + "\n")
		time.Sleep(time.Minute)
		return
	}
	parent := exec.Command(os.Args[0], "-test.run=^TestChildDiesWithParent$")
	parent.Env = append(os.Environ(), "CHILDPROC_PARENT=1")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("read the child's pid: %v", err)
	}
	pid, _ := strconv.Atoi(line[:len(line)-1])
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	for deadline := time.Now().Add(10 * time.Second); ; {
		// Signal 0 probes. A dead child waits as a zombie until init reaps
		// it, which a container's init may never do: a zombie is dead.
		if err := syscall.Kill(pid, 0); err != nil || zombie(pid) {
			return
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child %d outlived its SIGKILLed parent", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// zombie reports whether pid has exited and waits to be reaped: its state
// in /proc/<pid>/stat, the field after the parenthesised command name, is Z.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}
