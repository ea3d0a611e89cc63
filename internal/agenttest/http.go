package agenttest

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// httpClient keeps no idle connections, which would outlive the tests (and
// fail their goroutine leak check).
var httpClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// HTTPGet fetches url from the test process, retrying until it answers
// 200 (the server may still be starting) or a minute has passed, and
// returns the body. Tests only pass pod IPs podkit made, or loopback.
func HTTPGet(t testing.TB, url string) string {
	t.Helper()
	var body string
	Poll(t, time.Minute, 50*time.Millisecond, func() (bool, string) {
		code, b, err := do(http.MethodGet, url, "")
		body = b
		return err == nil && code == http.StatusOK, fmt.Sprintf("GET %s: status %d, body %q, err %v", url, code, b, err)
	})
	return body
}

// HTTPDo sends one request of method with body to url and returns the
// status code and the response body; it fails the test when no response
// comes.
func HTTPDo(t testing.TB, method, url, body string) (int, string) {
	t.Helper()
	code, b, err := do(method, url, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return code, b
}

func do(method, url, body string) (int, string, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
