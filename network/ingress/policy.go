package ingress

import (
	"net/http"
	"time"
)

// What both front ends share: where a request goes, the answers the
// controller gives itself, and which headers are forwarded. The HTTPS front
// end forwards with httputil.ReverseProxy, whose Rewrite (backends.go)
// applies this policy; the plain HTTP one (fast.go) applies the same by
// hand on fasthttp's headers. TestFrontEndsForwardAlike checks that a
// backend cannot tell the two apart.
//
// The headers dropped are httputil.ReverseProxy's: the hop-by-hop ones
// (RFC 9110 section 7.6.1) and those a Connection header names, both ways;
// and from requests the forwarding headers a client may send (Forwarded,
// X-Forwarded-For, -Host and -Proto), which are set anew, so that a client
// cannot pose as another. buildRequest and copyAnswerHead (fastproxy.go)
// list them.

// Timeouts of the client side, both front ends.
const (
	// readHeaderTimeout bounds how long a request's head may take to
	// arrive: on a new connection from its opening, on a kept-alive one
	// from the head's first byte.
	readHeaderTimeout = 30 * time.Second
	// idleTimeout is how long a kept-alive client connection may wait for
	// its next request (on the plain front end, up to deadlineSlack less).
	// fasthttp cannot wait without a limit, as net/http can; both front
	// ends use this one.
	idleTimeout = 90 * time.Second
	// shutdownGrace bounds how long Run waits for requests in flight.
	shutdownGrace = 5 * time.Second
	// watchAfter is how often the plain HTTP front end looks, for the
	// client having gone away, at the connections whose request waits for
	// the backend (fast.go, watch).
	watchAfter = 250 * time.Millisecond
)

// route returns the endpoint a request for host and path goes to, or the
// status to answer with: 404 when no rule matches, 503 when the backend
// has no ready endpoint. host and path are not kept.
func (c *Controller) route(host, path string) (*target, int) {
	b := c.routes.Load().lookup(host, path)
	if b == nil {
		return nil, http.StatusNotFound
	}
	t, err := c.backend(b)
	if err != nil {
		// The strings may point into a request buffer that is reused.
		c.cfg.log.Debug("no backend", "host", clone(host), "path", clone(path), "err", err)
		return nil, http.StatusServiceUnavailable
	}
	return t, 0
}

func clone(s string) string { return string([]byte(s)) }

// replyText is the body of an answer the controller gives itself, as
// http.Error writes it (with a newline after it).
func replyText(code int) string {
	switch code {
	case http.StatusNotFound:
		return "404 Not Found"
	case http.StatusServiceUnavailable:
		return "503 Service Temporarily Unavailable"
	case http.StatusBadGateway:
		return "502 Bad Gateway"
	case http.StatusBadRequest:
		return "400 Bad Request"
	}
	return http.StatusText(code)
}

// reply answers w with code, as both front ends answer what they do not
// forward.
func reply(w http.ResponseWriter, code int) {
	http.Error(w, replyText(code), code)
}
