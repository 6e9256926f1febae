package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/server"
)

// An open event stream ends with a complete response when shutdown starts,
// so the shutdown does not wait out its whole drain and cut it; a plain
// request in flight at the same moment still runs to its end.
func TestShutdownEndsStreams(t *testing.T) {
	streaming := make(chan struct{})
	slowStarted := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/events" {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "retry: 3000\n\n")
			w.(http.Flusher).Flush()
			close(streaming)
			<-r.Context().Done()
			return
		}
		close(slowStarted)
		select {
		case <-r.Context().Done():
			io.WriteString(w, "cancelled")
		case <-time.After(300 * time.Millisecond):
			io.WriteString(w, "finished")
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// A drain far longer than the test's deadline: waiting it out is the bug.
	go func() { done <- server.Serve(ctx, ln, h, slog.New(slog.DiscardHandler), time.Hour) }()
	base := "http://" + ln.Addr().String()

	resp, err := http.Get(base + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-streaming
	got := make(chan string, 1)
	go func() {
		r, err := http.Get(base + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		got <- string(b)
	}()
	<-slowStarted
	cancel()

	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, bufio.NewReader(resp.Body))
		ended <- err
	}()
	select {
	case err := <-ended:
		if err != nil {
			t.Fatalf("stream was cut instead of ending: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("stream still open after shutdown started")
	}
	if body := <-got; body != "finished" {
		t.Fatalf("plain request in flight got %q, want it to finish", body)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return")
	}
}
