package sockmod

import (
	"context"
	"net"
	"testing"
	"time"
)

// replyServer answers every connection's first frame with a fixed reply and
// closes it, like a socket module acknowledging an order.
func replyServer(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	reply := []byte(`{"retCode":"1","retMsg":"ok"}`)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				var have []byte
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					have = append(have, buf[:n]...)
					if FrameEnd(have) > 0 {
						c.Write(reply)
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkSend is one short-connection exchange per op (dial, write, read
// the reply, close; the in-process server's side included), from 16
// goroutines.
func BenchmarkSend(b *testing.B) {
	addr := replyServer(b)
	c, err := NewClient()
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	frame := []byte(`{"cmd":"order","orderNo":"1","phone":"13800000000"}`)
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Send(context.Background(), addr, frame, 5*time.Second); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
