package exampleutil

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// client sends each request on a new connection, so that a Service's
// proxy balances every request rather than one kept-alive connection.
var client = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// HTTPGet sends one GET to url, with host as the Host header when not
// empty (for Ingress rules), and returns the body of a 200 answer.
func HTTPGet(ctx context.Context, url, host string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	return string(b), nil
}

// HTTPGetEventually retries HTTPGet until it succeeds or ctx ends: a new
// Service or Ingress answers once the proxy has its rules and endpoints.
func HTTPGetEventually(ctx context.Context, url, host string) (string, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		body, err := HTTPGet(ctx, url, host)
		if err == nil {
			return body, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("GET %s (Host %q): %w; last error: %v", url, host, ctx.Err(), err)
		case <-tick.C:
		}
	}
}
