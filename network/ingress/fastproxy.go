package ingress

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"
)

// The plain HTTP front end's forwarding. fasthttp reads and writes every
// message, on both sides: the client's request (fasthttp.Server), the
// request as sent to the backend (fasthttp.Request.Write) and the
// backend's answer (fasthttp.Response.ReadLimitBody, its body streamed).
// The backend connections are the controller's kept-alive ones
// (transport.go), not a fasthttp.HostClient's: its pool closes idle
// connections from a goroutine that sleeps up to MaxIdleConnDuration
// after the last one is gone, so Run could not return with every
// goroutine ended; and a HostClient exchange cannot be cancelled when the
// client goes away, which the connection in hand allows (watch).
//
// fasthttp runs the handler on the connection's goroutine and does not
// watch the connection meanwhile: while a backend keeps an answer (or the
// next part of a streamed one) waiting, watch (fast.go) looks at the
// client's connection every watchAfter, and closes the backend connection
// when the client has gone, as net/http cancels a request's context.
//
// Where this front end differs from the HTTPS one (TestFrontEndsForwardAlike
// checks the rest): 1xx answers (103 Early Hints) are not passed on,
// fasthttp's reading of an answer skips them; a request without a body
// whose method may have one (DELETE, OPTIONS) goes with Content-Length: 0;
// request trailers are dropped (ReverseProxy sends them empty); a request
// head beyond readBufferSize gets 431 (net/http takes 1 MiB); a request
// with both Transfer-Encoding and Content-Length is answered, then its
// connection closed; the body of an answer without Content-Type is not
// sniffed for one; bytes that are not ASCII in a target go on as they
// came (net/http escapes them); the client's first bytes of an upgraded
// protocol, sent with the request, reach the backend (ReverseProxy drops
// them).

// errClientGone ends an exchange whose client went away.
var errClientGone = errors.New("the client went away")

// handle routes and forwards one request.
func (f *httpFront) handle(ctx *fasthttp.RequestCtx) {
	defer func() {
		if f.closing.Load() {
			ctx.SetConnectionClose()
		}
	}()
	cc, ok := ctx.Conn().(*clientConn)
	if !ok { // not served by serve
		f.replyFast(ctx, fasthttp.StatusInternalServerError)
		return
	}
	host, path, ok := requestTarget(&ctx.Request)
	if !ok {
		f.replyFast(ctx, fasthttp.StatusBadRequest)
		ctx.SetConnectionClose()
		return
	}
	tg, code := f.c.route(unsafeString(host), path)
	if tg == nil {
		f.replyFast(ctx, code)
		return
	}
	f.forward(ctx, cc, tg, host)
}

// requestTarget returns the host and path a request is routed by, as
// net/http reads them: the Host header, or the authority of a target in
// absolute form; the path percent-decoded and not cleaned, as it is
// forwarded (routing cleans it: cleanPath). ok is false
// for a request net/http rejects: HTTP/1.1 without a host, a path with a
// bad escape.
func requestTarget(req *fasthttp.Request) (host []byte, path string, ok bool) {
	uri := req.URI()
	host = req.Header.Host()
	if target := req.Header.RequestURI(); len(target) > 0 && target[0] != '/' {
		if a := authority(target); len(a) > 0 {
			host = a // as written: fasthttp's URI has it in lower case
		}
	}
	if len(host) == 0 && req.Header.IsHTTP11() {
		return nil, "", false
	}
	p := uri.PathOriginal()
	if bytes.IndexByte(p, '%') < 0 {
		return host, unsafeString(p), true
	}
	s, err := url.PathUnescape(string(p))
	return host, s, err == nil
}

// authority returns the host of a target in absolute form, without the
// user information, as net/url reads it.
func authority(target []byte) []byte {
	_, rest, ok := bytes.Cut(target, []byte("://"))
	if !ok {
		return nil
	}
	if i := bytes.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := bytes.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	return rest
}

// forward sends the request to tg and relays the answer.
func (f *httpFront) forward(ctx *fasthttp.RequestCtx, cc *clientConn, tg *target, host []byte) {
	in := &ctx.Request
	if hasBody(in) {
		// The head came within readHeaderTimeout; the body takes its time,
		// as net/http lets it.
		_ = ctx.SetReadDeadline(time.Time{})
	}
	out := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(out)
	upType := buildRequest(out, in, cc.ip, host)
	bresp := fasthttp.AcquireResponse()
	bresp.Header.SetNoDefaultContentType(true) // else it reports one the backend did not send
	bc, err := f.exchange(cc, tg, out, bresp)
	if err != nil {
		fasthttp.ReleaseResponse(bresp)
		f.backendFailed(ctx, tg, err)
		if errors.Is(err, errClientGone) {
			ctx.SetConnectionClose() // as ReverseProxy, 502 to a client that may still read
		}
		return
	}
	if bresp.StatusCode() == fasthttp.StatusSwitchingProtocols {
		if upType == nil {
			f.release(cc, bc, false)
			fasthttp.ReleaseResponse(bresp)
			f.backendFailed(ctx, tg, errors.New("backend switched protocols unasked"))
			return
		}
		f.upgrade(ctx, cc, tg, bc, bresp, upType)
		return
	}
	f.answer(ctx, cc, bc, bresp)
}

func (f *httpFront) backendFailed(ctx *fasthttp.RequestCtx, tg *target, err error) {
	f.c.cfg.log.Debug("backend failed", "backend", tg.hostport, "uri", string(ctx.Request.Header.RequestURI()), "err", err)
	f.replyFast(ctx, fasthttp.StatusBadGateway)
}

func hasBody(req *fasthttp.Request) bool {
	n := req.Header.ContentLength()
	return n > 0 || n == -1
}

// buildRequest writes into out the request to send for in, by the
// forwarding policy (see policy.go), as httputil.ReverseProxy with
// SetXForwarded forwards it: the target in origin form with its query
// cleaned as ReverseProxy cleans it, the Host given, the end-to-end
// headers in the order received and as received, the forwarding headers,
// and in's body, streamed. It returns the protocol the client asks to
// switch to, or nil.
//
// out's headers are raw (DisableSpecialHeader): fasthttp would otherwise
// merge Cookie headers and write its own framing headers, and deleting
// from in's headers would reorder repeated ones.
func buildRequest(out, in *fasthttp.Request, ip string, host []byte) (upType []byte) {
	ih := &in.Header
	connection := ih.PeekAll(fasthttp.HeaderConnection)
	upType = upgradeType(connection, ih.Peek(fasthttp.HeaderUpgrade))
	named := connectionOptions(connection)
	teTrailers := false
	for _, v := range ih.PeekAll("Te") {
		teTrailers = teTrailers || hasToken(v, "trailers")
	}

	h := &out.Header
	h.DisableSpecialHeader()
	// The server normalized in's header names, and the names added here
	// are written normalized: normalizing them again only costs.
	h.DisableNormalizing()
	h.SetMethodBytes(ih.Method())
	var target [128]byte
	h.SetRequestURIBytes(appendTarget(target[:0], in))
	h.AddBytesKV([]byte(fasthttp.HeaderHost), host)
	for k, v := range ih.AllInOrder() {
		switch string(k) {
		case "Host", "Content-Length", "Transfer-Encoding", // fasthttp frames the body
			"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Upgrade",
			"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto":
			continue
		}
		if named != nil && nameIn(k, named) {
			continue
		}
		h.AddBytesKV(k, v)
	}
	if teTrailers {
		h.Add("Te", "trailers")
	}
	if upType != nil {
		h.Add(fasthttp.HeaderConnection, "Upgrade")
		h.AddBytesV(fasthttp.HeaderUpgrade, upType)
	}
	if ip != "" {
		h.Add(fasthttp.HeaderXForwardedFor, ip)
	}
	h.AddBytesV("X-Forwarded-Host", host)
	h.Add("X-Forwarded-Proto", "http")
	if n := ih.ContentLength(); n > 0 || n == -1 {
		if body := in.BodyStream(); body != nil {
			out.SetBodyStream(body, n)
		} else {
			out.SetBodyRaw(in.Body())
		}
	}
	return upType
}

// appendTarget appends the target to send for in: in origin form, its
// path as the client sent it ("/a/../b" stays as it is), its query
// cleaned as httputil.ReverseProxy cleans it.
func appendTarget(dst []byte, in *fasthttp.Request) []byte {
	target := in.Header.RequestURI()
	var path, query []byte
	switch {
	case len(target) > 0 && target[0] == '/', string(target) == "*":
		path, query, _ = bytes.Cut(target, []byte("?"))
	default: // absolute form
		uri := in.URI()
		path, query = uri.PathOriginal(), uri.QueryString()
		if len(path) == 0 {
			path = []byte("/")
		}
	}
	dst = append(dst, path...)
	if len(query) > 0 {
		dst = append(dst, '?')
		dst = appendCleanQuery(dst, query)
	}
	return dst
}

// appendCleanQuery appends query, re-encoded without the parameters
// url.ParseQuery rejects when it has any (a ';', a bad escape), as
// httputil.ReverseProxy does so that the backend cannot read parameters
// the proxy did not.
func appendCleanQuery(dst, query []byte) []byte {
	for i := 0; i < len(query); {
		switch query[i] {
		case ';':
			v, _ := url.ParseQuery(string(query))
			return append(dst, v.Encode()...)
		case '%':
			if i+2 >= len(query) || !isHex(query[i+1]) || !isHex(query[i+2]) {
				v, _ := url.ParseQuery(string(query))
				return append(dst, v.Encode()...)
			}
			i += 3
		default:
			i++
		}
	}
	return append(dst, query...)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// upgradeType returns the protocol a head asks to switch to: its Upgrade
// header when a Connection header names "upgrade".
func upgradeType(connection [][]byte, upgrade []byte) []byte {
	for _, v := range connection {
		if hasToken(v, "upgrade") {
			return upgrade
		}
	}
	return nil
}

// hasToken tells whether the comma-separated list v holds token, in any
// case.
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var opt []byte
		opt, v, _ = bytes.Cut(v, []byte(","))
		if bytes.EqualFold(bytes.TrimSpace(opt), []byte(token)) {
			return true
		}
	}
	return false
}

// connectionOptions returns the header names the Connection headers
// list, as strings of their own (the headers change as they are
// deleted).
func connectionOptions(values [][]byte) []string {
	var names []string
	for _, v := range values {
		for len(v) > 0 {
			var opt []byte
			opt, v, _ = bytes.Cut(v, []byte(","))
			if opt = bytes.TrimSpace(opt); len(opt) > 0 && !bytes.EqualFold(opt, []byte("close")) &&
				!bytes.EqualFold(opt, []byte("keep-alive")) {
				names = append(names, string(opt))
			}
		}
	}
	return names
}

// exchange sends req to tg over a kept-alive connection and reads the
// answer's head into resp; its body, if any, is to be read from the
// connection returned. A request that fails on a kept-alive connection
// before its answer began (the backend closed the connection while it was
// idle) is sent again on another, when it can be: as http.Transport, one
// without a body and with an idempotent method. One that cannot is sent
// on a kept-alive connection only if the backend has not closed it, as
// far as can be told (http.Transport reads each idle connection to tell).
func (f *httpFront) exchange(cc *clientConn, tg *target, req *fasthttp.Request, resp *fasthttp.Response) (*backendConn, error) {
	replayable := !hasBody(req) && (req.Header.IsGet() || req.Header.IsHead() || req.Header.IsOptions() || req.Header.IsTrace())
	for {
		bc, err := f.c.transport.get(f.abort, tg.hostport)
		if err != nil {
			return nil, err
		}
		if !replayable && bc.reused && idleClosed(bc.conn) {
			bc.conn.Close()
			continue
		}
		cc.exchange.Store(bc)
		if cc.gone.Load() {
			f.release(cc, bc, true)
			return nil, errClientGone
		}
		err = f.roundTrip(cc, bc, req, resp)
		if err == nil {
			return bc, nil
		}
		f.release(cc, bc, false)
		var stale staleConnError
		if !errors.As(err, &stale) || !replayable {
			return nil, err
		}
	}
}

func (f *httpFront) roundTrip(cc *clientConn, bc *backendConn, req *fasthttp.Request, resp *fasthttp.Response) error {
	err := req.Write(bc.bw)
	if err == nil {
		// A request without a body is whole in the writer, unless its head
		// alone outgrew it and went out at once.
		err = f.send(cc, bc, !hasBody(req) && bc.bw.Buffered() > 0)
	}
	if err != nil {
		if bc.reused && !errors.Is(err, errClientGone) {
			err = staleConnError{err}
		}
		return err
	}
	resp.StreamBody = true
	resp.SkipBody = req.Header.IsHead()
	for {
		err := resp.ReadLimitBody(bc.br, 0)
		var small *fasthttp.ErrSmallBuffer
		if errors.As(err, &small) && bc.br.Size() < maxAnswerHead {
			// The head is larger than the buffer; nothing of it was used.
			// The new reader reads what the old one holds first.
			bc.br = bufio.NewReaderSize(bc.br, 4*bc.br.Size())
			continue
		}
		return err
	}
}

// send writes what bc's writer holds and waits until the backend sends
// on bc, or watch finds that the client went away and closes bc. whole
// tells that nothing of the request has been sent yet (flushAwait).
func (f *httpFront) send(cc *clientConn, bc *backendConn, whole bool) error {
	cc.waiting.Store(f.tick.Load())
	err := bc.flushAwait(whole)
	if err == nil && bc.br.Buffered() == 0 {
		_, err = bc.br.Peek(1)
	}
	cc.waiting.Store(0)
	if err != nil && cc.gone.Load() {
		return errClientGone
	}
	return err
}

// await waits for the next part of an answer, as send does with nothing
// to send.
func (f *httpFront) await(cc *clientConn, bc *backendConn) error {
	return f.send(cc, bc, false)
}

// release ends cc's use of bc: bc is kept for another request, or closed
// (watch may have closed it already).
func (f *httpFront) release(cc *clientConn, bc *backendConn, keep bool) {
	if cc.exchange.CompareAndSwap(bc, nil) && keep {
		f.c.transport.put(bc)
		return
	}
	bc.conn.Close()
}

// answer relays the backend's answer in bresp, whose body is read from bc
// as the client takes it.
func (f *httpFront) answer(ctx *fasthttp.RequestCtx, cc *clientConn, bc *backendConn, bresp *fasthttp.Response) {
	resp := &ctx.Response
	copyAnswerHead(resp, bresp, &f.dates, false)
	keep := bresp.Header.IsHTTP11() && !bresp.Header.ConnectionClose()
	body := bresp.BodyStream()
	n := bresp.Header.ContentLength()
	if body == nil || n == 0 {
		// HEAD, 204, 304, or an empty body: nothing more to read.
		if n >= 0 {
			resp.Header.SetContentLength(n)
		} else {
			resp.Header.Del(fasthttp.HeaderContentLength)
		}
		f.release(cc, bc, keep && bc.br.Buffered() == 0)
		fasthttp.ReleaseResponse(bresp)
		return
	}
	ab := answerBodies.Get().(*answerBody)
	*ab = answerBody{f: f, cc: cc, bc: bc, bresp: bresp, body: body, resp: resp, keep: keep && n != -2}
	switch {
	case n >= 0:
		if bytes.HasPrefix(resp.Header.ContentType(), []byte("text/event-stream")) {
			resp.ImmediateHeaderFlush = true
		}
		resp.SetBodyStream(ab, n)
	case ctx.Request.Header.IsHTTP11():
		// Chunked, or to the backend's end of the connection: the answer
		// goes out chunked, each part as it comes, as net/http flushes an
		// answer of unknown length.
		resp.ImmediateHeaderFlush = true
		resp.SetBodyStream(ab, -1)
	default:
		// An HTTP/1.0 client reads no chunks (which fasthttp would write):
		// the body runs to the end of the connection, as net/http sends it.
		f.untilClose(ctx, cc, ab)
	}
}

// untilClose writes the answer in ctx, its body read from ab, ending it
// by closing the connection.
func (f *httpFront) untilClose(ctx *fasthttp.RequestCtx, cc *clientConn, ab *answerBody) {
	resp := &ctx.Response
	resp.Header.Del(fasthttp.HeaderContentLength)
	resp.SetConnectionClose()
	head := resp.Header.AppendBytes(nil)
	cc.relayed = make(chan struct{})
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(c net.Conn) {
		defer close(cc.relayed)
		_, err := c.Write(head)
		if err == nil {
			_, err = io.Copy(c, ab)
		}
		_ = ab.CloseWithError(err)
	})
}

// copyAnswerHead copies the status and the headers of bresp to resp, as
// httputil.ReverseProxy does: without the hop-by-hop headers (see
// policy.go) unless hop is set, with the trailers bresp announces
// announced, and a Date, the backend's or, when it gave none, the current
// one, as net/http's server adds.
func copyAnswerHead(resp, bresp *fasthttp.Response, dates *dateCache, hop bool) {
	h := &bresp.Header
	date := h.Peek("Date")
	if len(date) == 0 {
		date = dates.line()
	}
	setDate(&resp.Header, date)
	resp.SetStatusCode(bresp.StatusCode())
	var named []string // headers a Connection header names
	if c := h.PeekAll(fasthttp.HeaderConnection); len(c) > 0 && !hop {
		named = connectionOptions(c)
	}
	for k, v := range h.All() {
		switch string(k) {
		case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
			"Te", "Transfer-Encoding", "Upgrade":
			if !hop {
				continue
			}
		case "Content-Length", "Date":
			continue
		}
		if named != nil && nameIn(k, named) {
			continue
		}
		resp.Header.AddBytesKV(k, v)
	}
}

// setDate gives h, which must be empty, the Date date. fasthttp's
// ResponseHeader takes a Date only from a head it parses: Set and Add
// leave the Date to the server, which, unless told not to
// (NoDefaultDate), writes the current one from a process-wide goroutine.
func setDate(h *fasthttp.ResponseHeader, date []byte) {
	d := dateHeads.Get().(*dateHead)
	d.head = append(append(append(d.head[:0], "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nDate: "...), date...), "\r\n\r\n"...)
	d.r.Reset(d.head)
	d.br.Reset(&d.r)
	_ = h.Read(d.br)
	h.SetStatusMessage(nil) // the reason of whatever status is set
	dateHeads.Put(d)
}

type dateHead struct {
	head []byte
	r    bytes.Reader
	br   *bufio.Reader
}

var dateHeads = sync.Pool{New: func() any { return &dateHead{br: bufio.NewReaderSize(nil, 256)} }}

func nameIn(k []byte, names []string) bool {
	for _, n := range names {
		if bytes.EqualFold(k, []byte(n)) {
			return true
		}
	}
	return false
}

// answerBody is the body of a backend's answer, read from the backend
// connection as the server writes it to the client. Closed, it gives the
// connection back for another request when the body was read to its end,
// else closes it.
type answerBody struct {
	f     *httpFront
	cc    *clientConn
	bc    *backendConn
	bresp *fasthttp.Response // the answer, whose head its trailers are read into
	body  io.Reader          // bresp's body stream
	resp  *fasthttp.Response // the client's answer, to copy the trailers to
	keep  bool               // the connection may serve another request
	eof   bool
	err   bool
}

func (a *answerBody) Read(p []byte) (int, error) {
	if a.eof {
		return 0, io.EOF
	}
	if a.bc.br.Buffered() == 0 {
		if err := a.f.await(a.cc, a.bc); err != nil {
			a.err = true
			return 0, err
		}
	}
	n, err := a.body.Read(p)
	switch {
	case err == io.EOF:
		a.eof = true
		a.copyTrailers()
	case err != nil:
		a.err = true
	}
	return n, err
}

// copyTrailers gives the client's answer the trailers read at the end of
// the body, before the server writes them.
func (a *answerBody) copyTrailers() {
	for _, k := range a.bresp.Header.PeekTrailerKeys() {
		for _, v := range a.bresp.Header.PeekAll(unsafeString(k)) {
			a.resp.Header.AddBytesKV(k, v)
		}
	}
}

// CloseWithError is called by the server once the body is written, or
// failed to be (err).
func (a *answerBody) CloseWithError(err error) error {
	keep := a.keep && a.eof && !a.err && err == nil && a.bc.br.Buffered() == 0
	fasthttp.ReleaseResponse(a.bresp)
	a.f.release(a.cc, a.bc, keep)
	*a = answerBody{}
	answerBodies.Put(a)
	return nil
}

// answerBodies recycles answerBody values.
var answerBodies = sync.Pool{New: func() any { return new(answerBody) }}

// upgrade completes a protocol switch (WebSocket and the like) the
// backend accepted: the client gets the backend's 101 answer, then the
// two connections are relayed both ways until either ends, as
// httputil.ReverseProxy relays them.
func (f *httpFront) upgrade(ctx *fasthttp.RequestCtx, cc *clientConn, tg *target, bc *backendConn, bresp *fasthttp.Response, upType []byte) {
	defer fasthttp.ReleaseResponse(bresp)
	h := &bresp.Header
	if got := upgradeType(h.PeekAll(fasthttp.HeaderConnection), h.Peek(fasthttp.HeaderUpgrade)); !bytes.EqualFold(got, upType) {
		f.release(cc, bc, false)
		f.backendFailed(ctx, tg, errors.New("backend switched to a protocol other than the one asked for"))
		return
	}
	// Every header of the 101 answer, the hop-by-hop ones that make the
	// switch included.
	resp := &ctx.Response
	copyAnswerHead(resp, bresp, &f.dates, true)
	head := resp.Header.AppendBytes(nil)
	cc.relayed = make(chan struct{})
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(client net.Conn) {
		defer close(cc.relayed)
		f.relay(cc, client, bc, head)
	})
}

// relay writes head to the client and relays the bytes of both
// connections until either side ends, then closes both.
func (f *httpFront) relay(cc *clientConn, client net.Conn, bc *backendConn, head []byte) {
	end := func() {
		bc.conn.Close()
		cc.Conn.Close() // client's Close is left to the server
	}
	defer func() {
		cc.exchange.CompareAndSwap(bc, nil)
		end()
	}()
	if _, err := client.Write(head); err != nil {
		return
	}
	// What the backend sent after its answer is of the new protocol.
	if n := bc.br.Buffered(); n > 0 {
		b, _ := bc.br.Peek(n)
		if _, err := client.Write(b); err != nil {
			return
		}
		_, _ = bc.br.Discard(n)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(bc.conn, client)
		end()
	}()
	_, _ = io.Copy(client, bc.conn)
	end()
	<-done
}

// replyFast answers ctx itself, as reply (policy.go) answers on net/http.
func (f *httpFront) replyFast(ctx *fasthttp.RequestCtx, code int) {
	resp := &ctx.Response
	setDate(&resp.Header, f.dates.line())
	resp.SetStatusCode(code)
	resp.Header.SetContentType("text/plain; charset=utf-8")
	resp.Header.Set("X-Content-Type-Options", "nosniff")
	resp.SetBodyString(replyText(code) + "\n")
}

// dateCache is the Date header value of the current second, computed
// when first asked for in that second (no goroutine refreshes it).
type dateCache struct{ p atomic.Pointer[dateLine] }

type dateLine struct {
	sec  int64
	line []byte
}

func (d *dateCache) line() []byte {
	now := time.Now()
	if l := d.p.Load(); l != nil && l.sec == now.Unix() {
		return l.line
	}
	l := &dateLine{sec: now.Unix(), line: now.UTC().AppendFormat(nil, http.TimeFormat)}
	d.p.Store(l)
	return l.line
}

// unsafeString is b as a string, for a call that keeps neither.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
