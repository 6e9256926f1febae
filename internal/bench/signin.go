package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// SignInOptions describe a flood of anonymous sign-in attempts: what the
// probe that took a server to 2.65 GB did with 40 clients.
type SignInOptions struct {
	// URL is the server's base URL; it must listen on loopback, since
	// every attempt comes from an address of its own in 127.0.0.0/8 so
	// the per-address throttle does not stop the flood before it hashes.
	URL      string
	Clients  int
	Duration time.Duration
}

// SignInResult is what one flood measured.
type SignInResult struct {
	Options  SignInOptions
	Requests int
	Errors   int // no HTTP answer
	Statuses map[int]int
	Elapsed  time.Duration
	P50, P99 time.Duration
}

// Share is the fraction of answers with status code.
func (r *SignInResult) Share(code int) float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.Statuses[code]) / float64(r.Requests)
}

// SignIn posts the sign-in form for user names that do not exist from
// Clients concurrent clients for Duration, each attempt on a new
// connection from a random loopback address.
func SignIn(ctx context.Context, opt SignInOptions) (*SignInResult, error) {
	if opt.Clients <= 0 || opt.Duration <= 0 {
		return nil, fmt.Errorf("clients and duration must be positive")
	}
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}, Transport: &http.Transport{DisableKeepAlives: true, DialContext: fromRandomLoopback}}
	ctx, cancel := context.WithTimeout(ctx, opt.Duration)
	defer cancel()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		statuses  = map[int]int{}
		errs      int
		wg        sync.WaitGroup
	)
	start := time.Now()
	for c := range opt.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			local, failed := map[int]int{}, 0
			for seq := 0; ctx.Err() == nil; seq++ {
				form := url.Values{"username": {fmt.Sprintf("ghost-%d-%d", c, seq)}, "password": {fmt.Sprintf("guess-%d", rand.Int64())}}
				t0 := time.Now()
				status, err := postForm(ctx, client, opt.URL+"/login", form)
				if ctx.Err() != nil {
					break // cut off by the end of the run: not a result
				}
				mine = append(mine, time.Since(t0))
				if err != nil {
					failed++
					continue
				}
				local[status]++
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			for k, v := range local {
				statuses[k] += v
			}
			errs += failed
			mu.Unlock()
		}()
	}
	wg.Wait()
	res := &SignInResult{Options: opt, Requests: len(latencies), Errors: errs, Statuses: statuses, Elapsed: time.Since(start)}
	slices.Sort(latencies)
	if n := len(latencies); n > 0 {
		res.P50, res.P99 = latencies[n/2], latencies[min(n-1, n*99/100)]
	}
	return res, nil
}

// fromRandomLoopback dials from a random address in 127.0.0.0/8, so each
// connection looks like another client to the server.
func fromRandomLoopback(ctx context.Context, network, addr string) (net.Conn, error) {
	local := &net.TCPAddr{IP: net.IPv4(127, byte(rand.IntN(256)), byte(rand.IntN(256)), byte(1+rand.IntN(254)))}
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: local}
	return d.DialContext(ctx, network, addr)
}

func postForm(ctx context.Context, c *http.Client, target string, form url.Values) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", target, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
