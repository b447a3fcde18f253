package backendtest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func get(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

func TestProxyOutages(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	p := NewProxy(t, strings.TrimPrefix(srv.URL, "http://"))
	url := "http://" + p.Addr() + "/"
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)

	wantOK := func(when string) {
		t.Helper()
		if body, err := get(t.Context(), client, url); err != nil || body != "ok" {
			t.Fatalf("GET %s = %q, %v, want ok", when, body, err)
		}
	}
	wantOK("before any outage")

	refuse := p.Refuse()
	refuse.Begin(t)
	if _, err := get(t.Context(), client, url); err == nil {
		t.Error("GET while refusing err = nil, want a connection error")
	}
	refuse.End(t)
	wantOK("after Refuse ended")

	hang := p.Hang()
	hang.Begin(t)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := get(ctx, client, url)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("GET while hanging err = %v, want the context's deadline", err)
	}
	if elapsed := time.Since(start); elapsed < 150*time.Millisecond {
		t.Errorf("GET while hanging returned after %v, want it to wait for the deadline", elapsed)
	}
	hang.End(t)
	wantOK("after Hang ended")
}
