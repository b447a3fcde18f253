package backendtest

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy forwards TCP connections from a port on 127.0.0.1 to a KMS server,
// so that a test can cut the network between a real client and a real
// server: Refuse stages an Unreachable outage and Hang a Hanging one. The
// server itself keeps running, because other tests share it. Proxy is safe
// for concurrent use.
type Proxy struct {
	target string
	addr   string

	mu      sync.Mutex
	ln      net.Listener // nil while refusing
	hanging bool
	conns   map[net.Conn]struct{}
	closed  bool
	wg      sync.WaitGroup
}

// NewProxy starts a proxy on a free port of 127.0.0.1 that forwards to
// target (host:port) and stops it when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: listen on 127.0.0.1: %v", err)
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	t.Cleanup(p.close)
	return p
}

// Addr returns the proxy's host:port, for the client to dial.
func (p *Proxy) Addr() string { return p.addr }

// Refuse returns the Outage that closes the proxy's port and every open
// connection, so that calls fail with a refused connection, and opens the
// port again at End.
func (p *Proxy) Refuse() Outage { return refuseOutage{p} }

// Hang returns the Outage that closes every open connection and then
// accepts new ones without ever responding, so that calls wait until their
// context ends. End closes the hanging connections and forwards again.
func (p *Proxy) Hang() Outage { return hangOutage{p} }

type refuseOutage struct{ p *Proxy }

func (o refuseOutage) Begin(t *testing.T) {
	o.p.mu.Lock()
	defer o.p.mu.Unlock()
	if o.p.ln != nil {
		o.p.ln.Close()
		o.p.ln = nil
	}
	o.p.dropLocked()
}

func (o refuseOutage) End(t *testing.T) {
	t.Helper()
	// The port was free a moment ago. Another process could take it
	// in between, so try a few times before giving up.
	var ln net.Listener
	var err error
	for range 20 {
		if ln, err = net.Listen("tcp", o.p.addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("proxy: listen on %s again: %v", o.p.addr, err)
	}
	o.p.serve(ln)
}

type hangOutage struct{ p *Proxy }

func (o hangOutage) Begin(*testing.T) { o.p.setHanging(true) }
func (o hangOutage) End(*testing.T)   { o.p.setHanging(false) }

func (p *Proxy) setHanging(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hanging = on
	p.dropLocked()
}

// dropLocked closes every open connection. p.mu is held.
func (p *Proxy) dropLocked() {
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// track registers c so that an outage can close it, and reports false when
// the proxy is closed or refusing, which a connection accepted just before
// Refuse can meet.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.ln == nil {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // the listener was closed by Refuse or close
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.handle(c)
			}()
		}
	}()
}

// handle forwards c to the target, or reads and discards what c sends
// while the proxy hangs.
func (p *Proxy) handle(c net.Conn) {
	defer c.Close()
	if !p.track(c) {
		return
	}
	defer p.untrack(c)
	p.mu.Lock()
	hanging := p.hanging
	p.mu.Unlock()
	if hanging {
		_, _ = io.Copy(io.Discard, c)
		return
	}

	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	if !p.track(up) {
		return
	}
	defer p.untrack(up)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done // either side ended: close both, which ends the other copy
	c.Close()
	up.Close()
	<-done
}

func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.dropLocked()
	p.mu.Unlock()
	p.wg.Wait()
}
