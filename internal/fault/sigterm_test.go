package fault

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SIGTERM under load: the request in flight when the signal arrives gets
// its answer, new connections are refused, open /events streams end
// cleanly (a complete response, not a cut connection), the process exits
// with status 0 within QUENCH_SHUTDOWN_TIMEOUT, and every acknowledged
// alert is on disk.
func TestSIGTERMUnderLoad(t *testing.T) {
	const grace = 20 * time.Second
	// Each round on fresh databases.
	for round := 1; round <= pick(1, 5); round++ {
		eachDatabase(t, func(t *testing.T, db database) {
			in := setup(t, db)
			l := newLedger(fmt.Sprintf("term%d", time.Now().UnixNano()%1e6))
			s := in.start(t, "QUENCH_SHUTDOWN_TIMEOUT="+grace.String())

			streams := make([]*stream, 3)
			for i := range streams {
				streams[i] = openStream(t, s.url+"/events")
			}
			// A request that is surely in flight at the signal: headers and
			// half of the body sent, the rest only after the signal.
			slow := l.newDelivery(99)
			conn := startSlowPost(t, s, in, slow.body)

			ld := in.startLoad(l, s, 4, 1)
			time.Sleep(jitter(200*time.Millisecond, 500*time.Millisecond))
			sent := time.Now()
			if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}

			// New connections are refused while the in-flight one drains.
			refused := false
			for deadline := time.Now().Add(exitDeadline); time.Now().Before(deadline) && !s.exited(); {
				c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.url, "http://"), time.Second)
				if err != nil {
					refused = true
					break
				}
				c.Close()
				time.Sleep(10 * time.Millisecond)
			}
			if !refused {
				t.Errorf("the server kept accepting connections after SIGTERM")
			}
			if s.exited() {
				t.Fatalf("the server exited with a request in flight: %v", s.waitErr)
			}
			l.addDelivery(slow, finishSlowPost(t, conn, slow.body))
			if slow.status != http.StatusOK {
				t.Errorf("the request in flight at SIGTERM got %d, want 200", slow.status)
			}

			for i, st := range streams {
				if err := st.wait(exitDeadline); err != nil {
					t.Errorf("stream %d did not end cleanly: %v", i, err)
				}
			}
			s.waitExit(t, grace+exitDeadline)
			took := time.Since(sent)
			ld.stop()
			if s.waitErr != nil {
				t.Errorf("quench serve exited with %v after SIGTERM, want status 0", s.waitErr)
			}
			if took > grace {
				t.Errorf("quench serve took %s to exit, more than QUENCH_SHUTDOWN_TIMEOUT=%s", took.Round(time.Millisecond), grace)
			}
			s.checkLog(t)
			l.checkUnexpected(t)

			// Every acknowledged alert is stored; a request that got no
			// answer must not have been processed either: the server
			// answers what it has started.
			in.verify(t, l)
			checkUnanswered(t, in, l)
			t.Logf("exit %s after SIGTERM; %s", took.Round(time.Millisecond), l.summary())
		})
	}
}

// checkUnanswered fails for a delivery that got no answer but whose alerts
// were stored: a request the server processed and then dropped.
func checkUnanswered(t *testing.T, in *instance, l *ledger) {
	t.Helper()
	db := in.db.open(t)
	defer db.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, d := range l.deliveries {
		if d.status != 0 {
			continue
		}
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM alerts WHERE fingerprint = $1`, d.fps[0]).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("delivery %s was stored but its sender never got an answer: an in-flight request was cut", d.id)
		}
	}
}

// stream is an open /events response being read to its end.
type stream struct {
	done chan error
}

func openStream(t *testing.T, url string) *stream {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	c := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /events: %s", resp.Status)
	}
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "retry:") {
		t.Fatalf("GET /events: first line %q, %v", line, err)
	}
	st := &stream{done: make(chan error, 1)}
	go func() {
		defer resp.Body.Close()
		_, err := io.Copy(io.Discard, br)
		// io.Copy turns a clean end (io.EOF) into nil; a cut connection
		// is io.ErrUnexpectedEOF or a reset.
		st.done <- err
	}()
	t.Cleanup(func() { resp.Body.Close() })
	return st
}

func (st *stream) wait(limit time.Duration) error {
	select {
	case err := <-st.done:
		return err
	case <-time.After(limit):
		return errors.New("still open")
	}
}

// startSlowPost sends an intake request's headers and half its body.
func startSlowPost(t *testing.T, s *server, in *instance, body []byte) net.Conn {
	t.Helper()
	host := strings.TrimPrefix(s.url, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST /api/v1/intake/alertmanager/%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", in.integration, host, in.intakeToken, len(body))
	if _, err := conn.Write(body[:len(body)/2]); err != nil {
		t.Fatal(err)
	}
	return conn
}

// finishSlowPost sends the rest of the body and reads the answer.
func finishSlowPost(t *testing.T, conn net.Conn, body []byte) reply {
	t.Helper()
	if _, err := conn.Write(body[len(body)/2:]); err != nil {
		return reply{err: err}
	}
	conn.SetReadDeadline(time.Now().Add(requestTimeout))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return reply{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{err: err}
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}
