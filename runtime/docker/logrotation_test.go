package docker_test

import (
	"fmt"
	"testing"

	"github.com/moby/moby/client"

	"github.com/podkit/podkit/internal/agenttest"
	"github.com/podkit/podkit/runtime/docker"
)

// TestLogRotation: the containers use the json-file driver with the
// rotation limits, and one printing far more than a small limit leaves
// that many files (see agenttest.RotatedLogs).
func TestLogRotation(t *testing.T) {
	const maxSize, maxFiles = 16 << 10, 3
	rt := newRuntime(t, docker.WithLogRotation(maxSize, maxFiles))
	p := newPod(t, rt, "logrotation")
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	agenttest.RotatedLogs{
		RT: rt, MaxFiles: maxFiles,
		Run:  func(args ...string) string { return p.run("chatty", nil, args...) },
		Done: func(id string) { waitContainer(t, rt, id, "exited", exited) },
		LogPath: func(id string) string {
			res, err := cli.ContainerInspect(testContext(t), id, client.ContainerInspectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			lc := res.Container.HostConfig.LogConfig
			if lc.Type != "json-file" || lc.Config["max-size"] != fmt.Sprint(maxSize) || lc.Config["max-file"] != fmt.Sprint(maxFiles) {
				t.Errorf("log config %+v, want json-file, max-size %d, max-file %d", lc, maxSize, maxFiles)
			}
			return res.Container.LogPath
		},
	}.Check(t)
}
