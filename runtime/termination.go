package runtime

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// MaxTerminationMessage is how many bytes of a termination message a
// runtime reports: the last ones of a longer file, as the kubelet reads it.
const MaxTerminationMessage = 4096

// ReadTerminationMessage returns the last MaxTerminationMessage bytes of the
// host file path that a container's TerminationMessagePath is mounted
// from, for runtimes to report as its Message: "" when the file does not
// exist, a message saying so when it cannot be read.
func ReadTerminationMessage(path string) string {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		return fmt.Sprintf("reading the termination message: %v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err == nil && fi.Size() > MaxTerminationMessage {
		_, err = f.Seek(fi.Size()-MaxTerminationMessage, io.SeekStart)
	}
	var b []byte
	if err == nil {
		b, err = io.ReadAll(io.LimitReader(f, MaxTerminationMessage))
	}
	if err != nil {
		return fmt.Sprintf("reading the termination message: %v", err)
	}
	return string(b)
}

// JoinMessages joins what a runtime says of a container's exit and the
// termination message the container wrote, as the kubelet does.
func JoinMessages(said, written string) string {
	if said == "" || written == "" {
		return said + written
	}
	return said + ": " + written
}
