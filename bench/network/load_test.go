package main

import (
	"testing"
	"time"
)

const wrkReport = `Running 5s test @ http://10.234.0.120/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   812.41us    1.13ms  31.92ms   95.12%
    Req/Sec    51.85k     3.02k   56.41k    76.00%
  Latency Distribution
     50%  469.00us
     75%  781.00us
     90%    1.43ms
     99%   10.09ms
  257986 requests in 5.00s, 36.41MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  51596.11
Transfer/sec:      7.28MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk([]byte(wrkReport))
	if err != nil {
		t.Fatal(err)
	}
	want := result{RPS: 51596.11, P50: 469 * time.Microsecond, P99: 10090 * time.Microsecond, Requests: 257986, Errors: 7}
	if r != want {
		t.Errorf("got %+v, want %+v", r, want)
	}
	if _, err := parseWrk([]byte("Running 5s test @ http://x/\nRequests/sec: 10\n")); err == nil {
		t.Error("a report without --latency parsed")
	}
}
