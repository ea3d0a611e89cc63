package proxy_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/podkit/podkit/network/proxy"
	"github.com/podkit/podkit/network/proxy/proxytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestUserspaceConformance(t *testing.T) {
	proxytest.Run(t, func(t *testing.T) proxy.DataPlane {
		dp, err := proxy.NewUserspace()
		if err != nil {
			t.Fatal(err)
		}
		return dp
	})
}
