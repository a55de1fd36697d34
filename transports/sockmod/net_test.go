package sockmod

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// readFrame reads one frame from a plain connection.
func readFrame(c net.Conn) ([]byte, error) {
	var buf []byte
	tmp := make([]byte, 512)
	for {
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if end := FrameEnd(buf); end > 0 {
			return buf[:end], nil
		} else if end < 0 {
			return nil, ErrFrame
		}
		if err != nil {
			return nil, err
		}
	}
}

// serveTCP runs a tiny plain-net peer: handle is called once per connection.
func serveTCP(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				handle(c)
			})
		}
	})
	return ln.Addr().String()
}

func newClient(t testing.TB) *Client {
	t.Helper()
	c, err := NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

func listen(t *testing.T, h CallbackHandler, opts ServerOptions) *CallbackServer {
	t.Helper()
	s, err := ListenCallbacks("127.0.0.1:0", h, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// pushCallback plays a module pushing a frame to the callback server and
// returns what it answered before closing.
func pushCallback(addr string, frame []byte) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(frame); err != nil {
		return nil, err
	}
	return io.ReadAll(c)
}

// The whole protocol over loopback: the engine's Client sends an order to a
// module, which acks and pushes the result to the engine's CallbackServer.
func TestOrderAckCallbackLoopback(t *testing.T) {
	const key = "k3y"
	results := make(chan Result, 16)
	srv := listen(t, func(frame []byte) ([]byte, bool) {
		r, err := DecodeResult(frame)
		if err != nil || !r.VerifySign(key) {
			t.Errorf("callback: %v (sign ok %v)", err, r.VerifySign(key))
			return nil, false
		}
		results <- r
		return ReplyOK(), true
	}, ServerOptions{})

	modErr := make(chan error, 16)
	module := serveTCP(t, func(c net.Conn) {
		frame, err := readFrame(c)
		if err != nil {
			modErr <- err
			return
		}
		o, err := DecodeOrder(frame)
		if err != nil || !o.VerifySign(key) {
			modErr <- errors.Join(err, errors.New("bad order"))
			return
		}
		ack, _ := EncodeAck(Ack{ChargeID: o.ChargeID, RetCode: 0, RetDetail: "定单已接收"}, key)
		if _, err := c.Write(ack); err != nil {
			modErr <- err
			return
		}
		c.Close()
		res, _ := EncodeResult(Result{ChargeID: o.ChargeID, RetCode: 1, RetDetail: "充值成功", RetRsn: o.RetRsn,
			RetCost: o.ChargeCash * 985 / 1000, RetBalance: 100, RetCash: o.ChargeCash}, key)
		reply, err := pushCallback(srv.Addr(), res)
		if err != nil || string(reply) != "OK" {
			modErr <- errors.Join(err, errors.New("callback reply "+string(reply)))
			return
		}
		modErr <- nil
	})

	cli := newClient(t)
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			o := Order{ChargeID: int64(1000 + i), ChargeAcct: "13800138000", ChargeCash: 10000, Amount: 1,
				NbrArea: "誠乗", RetRsn: "r"}
			frame, err := EncodeOrder(o, key)
			if err != nil {
				t.Error(err)
				return
			}
			reply, err := cli.Send(context.Background(), module, frame, 5*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			ack, err := DecodeAck(reply)
			if err != nil || !ack.VerifySign(key) || ack.ChargeID != o.ChargeID {
				t.Errorf("ack %+v: %v", ack, err)
			}
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for range n {
		select {
		case err := <-modErr:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("module did not finish")
		}
		r := <-results
		if r.RetCash != 10000 || r.RetRsn != "r" {
			t.Errorf("result %+v", r)
		}
		seen[r.ChargeID] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct results, want %d", len(seen), n)
	}
}

func TestSendTimeout(t *testing.T) {
	silent := serveTCP(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	cli := newClient(t)
	const timeout = 300 * time.Millisecond
	start := time.Now()
	_, err := cli.Send(context.Background(), silent, []byte(`{"a":1}`), timeout)
	elapsed := time.Since(start)
	if !errors.Is(err, ErrTimeout) || errors.Is(err, ErrNotSent) {
		t.Fatalf("err = %v, want ErrTimeout and not ErrNotSent", err)
	}
	if elapsed > timeout+time.Second {
		t.Errorf("Send took %v with a %v time-out", elapsed, timeout)
	}
}

func TestSendContextDeadline(t *testing.T) {
	silent := serveTCP(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	cli := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := cli.Send(ctx, silent, []byte(`{"a":1}`), time.Minute)
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrTimeout wrapping DeadlineExceeded", err)
	}
}

func TestSendErrors(t *testing.T) {
	cli := newClient(t)

	// Nobody listens: the order certainly did not leave.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	if _, err := cli.Send(context.Background(), dead, []byte(`{}`), time.Second); !errors.Is(err, ErrNetwork) || !errors.Is(err, ErrNotSent) {
		t.Errorf("refused: err = %v, want ErrNetwork and ErrNotSent", err)
	}

	hangUp := serveTCP(t, func(c net.Conn) { _, _ = readFrame(c) })
	if _, err := cli.Send(context.Background(), hangUp, []byte(`{}`), time.Second); !errors.Is(err, ErrNetwork) || errors.Is(err, ErrNotSent) {
		t.Errorf("hang-up: err = %v, want ErrNetwork only", err)
	}

	halfReply := serveTCP(t, func(c net.Conn) { _, _ = readFrame(c); _, _ = c.Write([]byte(`{"chargeId":`)) })
	if _, err := cli.Send(context.Background(), halfReply, []byte(`{}`), time.Second); !errors.Is(err, ErrNetwork) {
		t.Errorf("half reply: err = %v, want ErrNetwork", err)
	}

	garbage := serveTCP(t, func(c net.Conn) { _, _ = readFrame(c); _, _ = c.Write([]byte("HTTP/1.1 400\r\n\r\n")) })
	if _, err := cli.Send(context.Background(), garbage, []byte(`{}`), time.Second); !errors.Is(err, ErrFrame) {
		t.Errorf("garbage: err = %v, want ErrFrame", err)
	}
}

// A reply dribbled byte by byte, with trailing junk, comes back whole and
// without the junk.
func TestSendSplitReply(t *testing.T) {
	reply := gbk(t, specAck)
	dribble := serveTCP(t, func(c net.Conn) {
		_, _ = readFrame(c)
		for i := range reply {
			if _, err := c.Write(reply[i : i+1]); err != nil {
				return
			}
			if i%16 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		_, _ = c.Write([]byte("junk"))
		time.Sleep(50 * time.Millisecond)
	})
	cli := newClient(t)
	got, err := cli.Send(context.Background(), dribble, []byte(`{}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, reply) {
		t.Errorf("reply = %q, want %q", got, reply)
	}
}

// A Send waiting for a reply ends when its context is cancelled (ErrNetwork,
// not a time-out) and when the client is closed.
func TestSendCancelAndClose(t *testing.T) {
	silent := serveTCP(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	cli := newClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := cli.Send(ctx, silent, []byte(`{"a":1}`), time.Minute)
	if !errors.Is(err, ErrNetwork) || !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Fatalf("cancelled: err = %v, want ErrNetwork wrapping Canceled", err)
	}
	cli2, err := NewClient()
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(100*time.Millisecond, func() { _ = cli2.Close() })
	start := time.Now()
	_, err = cli2.Send(context.Background(), silent, []byte(`{"a":1}`), time.Minute)
	if !errors.Is(err, ErrNetwork) || !errors.Is(err, ErrClosed) {
		t.Fatalf("closed: err = %v, want ErrNetwork wrapping ErrClosed", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("Close left Send waiting %s", el)
	}
}

func TestSendAfterClose(t *testing.T) {
	cli, err := NewClient()
	if err != nil {
		t.Fatal(err)
	}
	peer := serveTCP(t, func(c net.Conn) { _, _ = readFrame(c) })
	if err := cli.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Send(context.Background(), peer, []byte(`{}`), time.Second); !errors.Is(err, ErrClosed) {
		t.Errorf("err = %v, want ErrClosed", err)
	}
	if err := cli.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCallbackServerFraming(t *testing.T) {
	var calls atomic.Int64
	srv := listen(t, func(frame []byte) ([]byte, bool) {
		calls.Add(1)
		if FrameEnd(frame) != len(frame) {
			t.Errorf("handler got a bad frame %q", frame)
		}
		if bytes.Contains(frame, []byte("refuse")) {
			return nil, false
		}
		return ReplyOK(), true
	}, ServerOptions{ReadTimeout: 300 * time.Millisecond})

	// Split across writes, with a GBK trail byte that looks like an escape.
	frame := gbk(t, `{"chargeId":1,"retCode":1,"retDetail":"誠"}`)
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	for i := range frame {
		if _, err := c.Write(frame[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	got, err := io.ReadAll(c)
	c.Close()
	if err != nil || string(got) != "OK" {
		t.Errorf("split frame: reply %q, %v", got, err)
	}

	// Garbage: closed without an answer, handler never called.
	before := calls.Load()
	if got, err := pushCallback(srv.Addr(), []byte("GET / HTTP/1.0\r\n\r\n")); len(got) != 0 {
		t.Errorf("garbage: reply %q, %v", got, err)
	}
	// Handler refuses: closed without an answer.
	if got, err := pushCallback(srv.Addr(), []byte(`{"x":"refuse"}`)); len(got) != 0 {
		t.Errorf("refused: reply %q, %v", got, err)
	}
	if d := calls.Load() - before; d != 1 {
		t.Errorf("handler calls = %d, want 1", d)
	}

	// Idle: closed after ReadTimeout.
	idle, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	_, _ = idle.Write([]byte(`{"chargeId":`))
	_ = idle.SetDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	got, err = io.ReadAll(idle)
	if err != nil || len(got) != 0 {
		t.Errorf("idle: reply %q, %v", got, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("idle connection closed after %v", d)
	}
}

// With every worker busy and the queue full, new callbacks are cut off
// unanswered instead of piling up; they succeed once the handler frees up.
func TestCallbackServerOverload(t *testing.T) {
	release := make(chan struct{})
	var entered atomic.Int64
	srv := listen(t, func([]byte) ([]byte, bool) {
		entered.Add(1)
		<-release
		return ReplyOK(), true
	}, ServerOptions{Workers: 1, Queue: 1})

	frame := []byte(`{"chargeId":1,"retCode":1}`)
	type res struct {
		reply []byte
		err   error
	}
	out := make(chan res, 2)
	for range 2 { // one in the handler, one queued
		go func() {
			r, err := pushCallback(srv.Addr(), frame)
			out <- res{r, err}
		}()
		deadline := time.Now().Add(5 * time.Second)
		for entered.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	time.Sleep(100 * time.Millisecond) // let the second frame reach the queue
	if got, _ := pushCallback(srv.Addr(), frame); len(got) != 0 {
		t.Errorf("overloaded: reply %q, want none", got)
	}
	close(release)
	for range 2 {
		if r := <-out; string(r.reply) != "OK" {
			t.Errorf("queued callback: reply %q, %v", r.reply, r.err)
		}
	}
}

func TestCallbackServerClose(t *testing.T) {
	srv, err := ListenCallbacks("127.0.0.1:0", func([]byte) ([]byte, bool) { return ReplyOK(), true }, ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr()
	if got, err := pushCallback(addr, []byte(`{}`)); string(got) != "OK" {
		t.Fatalf("reply %q, %v", got, err)
	}
	start := time.Now()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("still accepting after Close")
	}
	if _, err := ListenCallbacks("256.0.0.1:1", func([]byte) ([]byte, bool) { return nil, false }, ServerOptions{}); err == nil {
		t.Error("listening on a bad address succeeded")
	}
}
