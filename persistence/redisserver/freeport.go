package redisserver

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

var (
	portMu sync.Mutex
	handed = map[int]bool{}
)

// FreePort returns a loopback TCP port that was free when asked, for a
// process (redis-server, a daemon under test) to bind a moment later.
//
// A port from the kernel (":0") comes from the ephemeral range, where any
// outgoing connection of any process can take it before the caller binds
// it; under parallel tests that happens. FreePort picks at random below the
// ephemeral range instead, where only explicit binds land, checks that it is
// free, and never returns a port twice in one process.
func FreePort() (int, error) {
	hi := ephemeralLow()
	lo := max(hi-12000, 10000)
	portMu.Lock()
	defer portMu.Unlock()
	for range 500 {
		p := lo + rand.IntN(hi-lo)
		if handed[p] {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		_ = ln.Close()
		handed[p] = true
		return p, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redisserver: pick a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// FreeAddr is FreePort as "127.0.0.1:port".
func FreeAddr() (string, error) {
	p, err := FreePort()
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(p), nil
}

// ephemeralLow is the bottom of the kernel's ephemeral port range (32768
// if it cannot be read).
func ephemeralLow() int {
	raw, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(raw)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil && v > 11000 {
				return v
			}
		}
	}
	return 32768
}
