package sockmod

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// Errors of Client.Send. Callers use errors.Is. A Send that fails with
// ErrTimeout or ErrNetwork but not ErrNotSent may have reached the module:
// its outcome is uncertain.
var (
	// ErrTimeout: no complete reply within the time-out (or the context's
	// deadline passed).
	ErrTimeout = errors.New("sockmod: time-out")
	// ErrNetwork: the connection failed or was closed before a complete reply.
	ErrNetwork = errors.New("sockmod: network error")
	// ErrFrame: the reply is not a JSON object or is longer than MaxFrame.
	ErrFrame = errors.New("sockmod: bad frame")
	// ErrNotSent: the connection could not be made; no byte of the frame
	// left this process, so the module certainly did not get it. Always
	// wrapped together with ErrTimeout or ErrNetwork.
	ErrNotSent = errors.New("sockmod: not sent")
	// ErrClosed: the Client or CallbackServer is closed.
	ErrClosed = errors.New("sockmod: closed")
)

// DefaultSendTimeout is the time-out Send uses when given none.
const DefaultSendTimeout = 10 * time.Second

// Client sends frames to socket modules over short TCP connections, one
// request and one reply per connection. It is safe for concurrent use.
//
// Design: dialling and writing the (small) request happen on the caller's
// goroutine with plain net, which gives a dial time-out gnet lacks; the
// connected socket is then enrolled into a gnet client whose event loops
// collect the reply, so waiting for thousands of slow modules costs no
// goroutine stacks and no blocked threads.
type Client struct {
	cli *gnet.Client

	mu     sync.RWMutex // Lock excludes Send from Close
	closed bool
}

// NewClient starts a client with one event loop per CPU.
func NewClient() (*Client, error) {
	cli, err := gnet.NewClient(&clientEvents{},
		gnet.WithMulticore(true),
		gnet.WithLogger(gnetLogger{slog.Default()}),
	)
	if err != nil {
		return nil, fmt.Errorf("sockmod: new client: %w", err)
	}
	if err := cli.Start(); err != nil {
		return nil, fmt.Errorf("sockmod: start client: %w", err)
	}
	return &Client{cli: cli}, nil
}

// Close stops the client. Sends in flight end with an error; later Sends
// fail with ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if err := c.cli.Stop(); err != nil {
		return fmt.Errorf("sockmod: stop client: %w", err)
	}
	return nil
}

// Send connects to addr, writes frame, waits for one complete reply frame
// (see FrameEnd) and closes the connection. The whole exchange is bounded by
// timeout (DefaultSendTimeout if not positive) and by ctx. It returns a copy
// of the reply frame without any bytes that followed it.
//
// Errors wrap ErrTimeout, ErrNetwork or ErrFrame; connection failures also
// wrap ErrNotSent.
func (c *Client) Send(ctx context.Context, addr string, frame []byte, timeout time.Duration) ([]byte, error) {
	if timeout <= 0 {
		timeout = DefaultSendTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		kind := ErrNetwork
		if isTimeout(err) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			kind = ErrTimeout
		}
		return nil, fmt.Errorf("sockmod: connect %s: %w: %w (%w)", addr, kind, ErrNotSent, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetWriteDeadline(dl)
	}
	if _, err := nc.Write(frame); err != nil {
		_ = nc.Close()
		kind := ErrNetwork
		if isTimeout(err) {
			kind = ErrTimeout
		}
		return nil, fmt.Errorf("sockmod: write to %s: %w (%w)", addr, kind, err)
	}

	ex := &exchange{done: make(chan exchangeResult, 1)}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		_ = nc.Close()
		return nil, fmt.Errorf("sockmod: send to %s: %w", addr, ErrClosed)
	}
	// EnrollContext duplicates the socket into the event loop and closes nc.
	gc, err := c.cli.EnrollContext(nc, ex)
	c.mu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("sockmod: send to %s: enroll: %w (%w)", addr, ErrNetwork, err)
	}

	select {
	case r := <-ex.done:
		return r.reply(addr)
	case <-ctx.Done():
		select {
		case r := <-ex.done: // the reply won the race
			return r.reply(addr)
		default:
		}
		_ = gc.Close()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("sockmod: send to %s: no reply: %w (%w)", addr, ErrTimeout, ctx.Err())
		}
		return nil, fmt.Errorf("sockmod: send to %s: %w (%w)", addr, ErrNetwork, ctx.Err())
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}

// exchange is the state of one Send on the event loop. buf and finished are
// touched only by the event loop; done carries the one result to Send.
type exchange struct {
	buf      []byte
	finished bool
	done     chan exchangeResult // capacity 1
}

type exchangeResult struct {
	frame []byte
	err   error // ErrFrame or ErrNetwork, without context
	cause error
}

func (r exchangeResult) reply(addr string) ([]byte, error) {
	if r.err == nil {
		return r.frame, nil
	}
	if r.cause != nil {
		return nil, fmt.Errorf("sockmod: reply from %s: %w (%w)", addr, r.err, r.cause)
	}
	return nil, fmt.Errorf("sockmod: reply from %s: %w", addr, r.err)
}

func (ex *exchange) finish(r exchangeResult) {
	if ex.finished {
		return
	}
	ex.finished = true
	ex.done <- r
}

// clientEvents collects replies on the client's event loops.
type clientEvents struct{ gnet.BuiltinEventEngine }

func (clientEvents) OnTraffic(c gnet.Conn) gnet.Action {
	ex, _ := c.Context().(*exchange)
	data, _ := c.Next(-1) // valid only until we return: copied below
	if ex == nil || ex.finished {
		return gnet.Close
	}
	var n int
	if len(ex.buf) == 0 {
		n = FrameEnd(data)
		if n > 0 {
			ex.finish(exchangeResult{frame: append([]byte(nil), data[:n]...)})
			return gnet.Close
		}
	}
	if n == 0 {
		ex.buf = append(ex.buf, data...)
		n = FrameEnd(ex.buf)
	}
	switch {
	case n < 0:
		ex.finish(exchangeResult{err: ErrFrame})
		return gnet.Close
	case n > 0:
		ex.finish(exchangeResult{frame: ex.buf[:n:n]})
		return gnet.Close
	}
	return gnet.None
}

func (clientEvents) OnClose(c gnet.Conn, err error) gnet.Action {
	if ex, _ := c.Context().(*exchange); ex != nil && !ex.finished {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		ex.finish(exchangeResult{err: ErrNetwork, cause: fmt.Errorf("closed before a complete reply: %w", err)})
	}
	return gnet.None
}
