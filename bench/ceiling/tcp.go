package ceiling

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"topup/bench/load"
	"topup/engine"
	"topup/transports/sockmod"
)

// tcpTimeout bounds one short connection, connect to close.
const tcpTimeout = 5 * time.Second

// readFrame reads one socket-module frame from c.
func readFrame(c net.Conn, buf []byte) ([]byte, error) {
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			return buf, sockmod.ErrFrame
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if end := sockmod.FrameEnd(buf); end > 0 {
			return buf[:end], nil
		} else if end < 0 {
			return buf, sockmod.ErrFrame
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
	}
}

// measureTCP serves a loopback listener that reads one socket-module order
// frame and answers one ack frame per connection, and drives it with
// TCPConns goroutines each connecting, writing, reading and closing.
func measureTCP(ctx context.Context, cfg Config) (Measure, error) {
	const key = "ceiling-key-0001"
	order, err := sockmod.EncodeOrder(sockmod.Order{ChargeID: engine.MakeID(1, 123456).SupplierNo(1), ChargeAcct: "13000123456",
		ChargeCash: 5000, Amount: 1, RetRsn: "12345601"}, key)
	if err != nil {
		return Measure{}, fmt.Errorf("ceiling: tcp: %w", err)
	}
	ack, err := sockmod.EncodeAck(sockmod.Ack{ChargeID: 12345601, RetCode: 0, RetDetail: "received", RetRsn: "12345601"}, key)
	if err != nil {
		return Measure{}, fmt.Errorf("ceiling: tcp: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Measure{}, fmt.Errorf("ceiling: tcp: %w", err)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4*cfg.TCPConns)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed
			}
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(tcpTimeout))
				buf := make([]byte, 0, 2048)
				if _, err := readFrame(c, buf); err == nil {
					_, _ = c.Write(ack)
				}
			})
		}
	})
	addr := ln.Addr().String()
	rec, err := load.RunClosed(ctx, load.Closed{N: unbounded, Workers: cfg.TCPConns, MaxDuration: cfg.Duration},
		func(ctx context.Context, _ int, _ time.Time) load.Outcome {
			d := net.Dialer{Timeout: tcpTimeout}
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return load.Outcome{Reason: "dial"}
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(tcpTimeout))
			if _, err := c.Write(order); err != nil {
				return load.Outcome{Reason: "write"}
			}
			var buf [512]byte
			if _, err := readFrame(c, buf[:0]); err != nil {
				return load.Outcome{Reason: "read"}
			}
			return load.Outcome{OK: true}
		})
	cerr := ln.Close()
	wg.Wait()
	if err != nil {
		return Measure{}, fmt.Errorf("ceiling: tcp: %w", err)
	}
	if cerr != nil {
		return Measure{}, fmt.Errorf("ceiling: tcp: %w", cerr)
	}
	m := fromRecording(TCPShort, fmt.Sprintf("short loopback TCP connections (connect, order frame, ack frame, close), %d at once", cfg.TCPConns),
		"conns/s", rec, 1, cfg.TCPConns)
	return m, nil
}
