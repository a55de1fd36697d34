package sockmod

import (
	"context"
	"net"
	"testing"
	"time"
)

// BenchmarkSend is one short-connection exchange per op (dial, write, read
// the reply, close; the in-process server's side included), from 16
// goroutines. The server answers every order frame with a fixed ack, like a
// socket module acknowledging an order.
func BenchmarkSend(b *testing.B) {
	reply := []byte(`{"retCode":"1","retMsg":"ok"}`)
	addr := serveTCP(b, func(c net.Conn) {
		if _, err := readFrame(c); err == nil {
			_, _ = c.Write(reply)
		}
	})
	c := newClient(b)
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
