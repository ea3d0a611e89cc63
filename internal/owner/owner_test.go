package owner

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

func TestAlive(t *testing.T) {
	self, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	if !Alive(self) {
		t.Errorf("Alive(Self() = %q) = false", self)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	var pid int
	var start string
	if _, err := fmt.Sscanf(self, "%d %s", &pid, &start); err != nil || pid != os.Getpid() {
		t.Fatalf("Self() = %q, want PID START", self)
	}
	for _, mark := range []string{
		fmt.Sprintf("%d %s", cmd.Process.Pid, start), // exited
		fmt.Sprintf("%d 1", os.Getpid()),             // this pid, another start: reused
		"", "garbage",
	} {
		if Alive(mark) {
			t.Errorf("Alive(%q) = true", mark)
		}
	}
}
