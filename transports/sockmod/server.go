package sockmod

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// DefaultCallbackPort is the port modules send result callbacks to.
const DefaultCallbackPort = 50899

// ReplyOK returns the reply to a callback the engine has taken: the ASCII
// bytes "OK". A module stops resending once it reads them.
func ReplyOK() []byte { return []byte("OK") }

// CallbackHandler handles one callback frame (a complete JSON object, GBK, a
// private copy). It runs on a worker goroutine and may block, typically until
// the result is durable. ok = true sends reply (normally ReplyOK()) and closes
// the connection; ok = false closes it without an answer, so the module
// resends later.
type CallbackHandler func(frame []byte) (reply []byte, ok bool)

// ServerOptions tune a CallbackServer. Zero fields take their defaults.
type ServerOptions struct {
	// Workers is the number of goroutines running the handler (default 64).
	Workers int
	// Queue bounds the frames waiting for a worker (default 4096). A frame
	// that finds the queue full has its connection closed unanswered.
	Queue int
	// ReadTimeout bounds the time from accepting a connection to having a
	// complete frame (default 10s).
	ReadTimeout time.Duration
	// Logger receives gnet's own log lines (default slog.Default()).
	Logger *slog.Logger
}

func (o ServerOptions) withDefaults() ServerOptions {
	if o.Workers <= 0 {
		o.Workers = 64
	}
	if o.Queue <= 0 {
		o.Queue = 4096
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// CallbackServer accepts result callbacks from socket modules.
//
// Design: gnet event loops only frame bytes; every complete frame is copied
// and handed to a bounded worker pool, because the handler waits for
// durability and must never stall an event loop. The reply goes back with
// AsyncWrite and the connection is closed once it is written. Timers and
// workers touch connections only while mu shows the engine running, so no
// call reaches an event loop that Close has torn down.
type CallbackServer struct {
	h    CallbackHandler
	opts ServerOptions

	eng    gnet.Engine // set in OnBoot, before booted is closed
	addr   string      // likewise
	booted chan struct{}
	ran    chan error // gnet.Run's result

	jobs chan callbackJob
	quit chan struct{}
	wg   sync.WaitGroup // workers

	mu      sync.RWMutex
	stopped bool

	closeOnce sync.Once
	closeErr  error
}

type callbackJob struct {
	c     gnet.Conn
	frame []byte
}

// cbConn is the per-connection state; touched only by the event loop, except
// timer, which is safe for concurrent use.
type cbConn struct {
	buf        []byte
	dispatched bool
	timer      *time.Timer
}

// ListenCallbacks starts a callback server on addr ("host:port"; port 0
// picks a free port) and returns once it is listening.
func ListenCallbacks(addr string, h CallbackHandler, opts ServerOptions) (*CallbackServer, error) {
	if h == nil {
		return nil, errors.New("sockmod: listen callbacks: nil handler")
	}
	opts = opts.withDefaults()
	s := &CallbackServer{
		h:      h,
		opts:   opts,
		booted: make(chan struct{}),
		ran:    make(chan error, 1),
		jobs:   make(chan callbackJob, opts.Queue),
		quit:   make(chan struct{}),
	}
	go func() {
		s.ran <- gnet.Run(&serverEvents{s: s}, "tcp://"+addr,
			gnet.WithMulticore(true),
			gnet.WithLoadBalancing(gnet.LeastConnections),
			gnet.WithReuseAddr(true), // rebind at once after a restart
			gnet.WithLogger(gnetLogger{opts.Logger}),
		)
	}()
	select {
	case <-s.booted:
	case err := <-s.ran:
		if err == nil {
			err = errors.New("engine stopped during start-up")
		}
		return nil, fmt.Errorf("sockmod: listen callbacks on %s: %w", addr, err)
	}
	if s.addr == "" {
		_ = s.stopEngine()
		return nil, fmt.Errorf("sockmod: listen callbacks on %s: cannot read the bound address", addr)
	}
	s.wg.Add(opts.Workers)
	for range opts.Workers {
		go s.work()
	}
	return s, nil
}

// Addr is the address the server listens on, host:port.
func (s *CallbackServer) Addr() string { return s.addr }

// Close stops accepting, closes every connection, and waits for handlers in
// progress to return. Frames still queued are dropped unanswered (their
// modules resend). Close is idempotent.
func (s *CallbackServer) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
		s.closeErr = s.stopEngine()
		close(s.quit)
		s.wg.Wait()
	})
	return s.closeErr
}

func (s *CallbackServer) stopEngine() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Engine.Stop polls for completion every 500ms; gnet.Run returns as
	// soon as the engine is down, so wait for that instead. Stop's own
	// result adds nothing to Run's and is dropped.
	go func() { _ = s.eng.Stop(ctx) }()
	select {
	case err := <-s.ran:
		if err != nil {
			return fmt.Errorf("sockmod: callback server: %w", err)
		}
	case <-ctx.Done():
		return fmt.Errorf("sockmod: stop callback server: %w", ctx.Err())
	}
	return nil
}

// work runs the handler for queued frames until Close.
func (s *CallbackServer) work() {
	defer s.wg.Done()
	for {
		select {
		case <-s.quit:
			return
		case j := <-s.jobs:
			s.serve(j)
		}
	}
}

func (s *CallbackServer) serve(j callbackJob) {
	reply, ok := s.h(j.frame)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.stopped {
		return // the engine closed the connection already
	}
	if !ok {
		_ = j.c.Close()
		return
	}
	// The close is queued from the write's completion callback, on the
	// event loop, so it always follows the write.
	_ = j.c.AsyncWrite(reply, func(c gnet.Conn, _ error) error {
		return c.Close()
	})
}

// closeIfRunning closes c unless the engine is being torn down (it closes
// every connection itself then).
func (s *CallbackServer) closeIfRunning(c gnet.Conn) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.stopped {
		_ = c.Close()
	}
}

// serverEvents frames callbacks on the event loops.
type serverEvents struct {
	gnet.BuiltinEventEngine
	s *CallbackServer
}

func (e *serverEvents) OnBoot(eng gnet.Engine) gnet.Action {
	e.s.eng = eng
	e.s.addr, _ = boundAddr(eng)
	close(e.s.booted)
	return gnet.None
}

// boundAddr reads the listener's actual address (port 0 is resolved).
func boundAddr(eng gnet.Engine) (string, error) {
	fd, err := eng.Dup()
	if err != nil {
		return "", err
	}
	f := os.NewFile(uintptr(fd), "callback-listener")
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func (e *serverEvents) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	st := &cbConn{}
	st.timer = time.AfterFunc(e.s.opts.ReadTimeout, func() { e.s.closeIfRunning(c) })
	c.SetContext(st)
	return nil, gnet.None
}

func (e *serverEvents) OnTraffic(c gnet.Conn) gnet.Action {
	st, _ := c.Context().(*cbConn)
	data, _ := c.Next(-1) // valid only until we return: copied below
	if st == nil || st.dispatched {
		return gnet.None // one frame per connection; ignore the rest
	}
	var frame []byte
	n := 0
	if len(st.buf) == 0 {
		if n = FrameEnd(data); n > 0 {
			frame = append([]byte(nil), data[:n]...)
		}
	}
	if n == 0 {
		st.buf = append(st.buf, data...)
		if n = FrameEnd(st.buf); n > 0 {
			frame = st.buf[:n:n]
		}
	}
	if n < 0 {
		return gnet.Close // garbage or over MaxFrame
	}
	if n == 0 {
		return gnet.None
	}
	st.dispatched = true
	st.buf = nil
	st.timer.Stop()
	select {
	case e.s.jobs <- callbackJob{c: c, frame: frame}:
		return gnet.None
	default:
		return gnet.Close // overloaded: the module will resend
	}
}

func (e *serverEvents) OnClose(c gnet.Conn, _ error) gnet.Action {
	if st, _ := c.Context().(*cbConn); st != nil {
		st.timer.Stop()
	}
	return gnet.None
}
