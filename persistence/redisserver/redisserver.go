// Package redisserver runs a real redis-server as a child process, bound to
// loopback, for tests, `make run` and the bench harness.
package redisserver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// startTimeout bounds the wait for a started server to answer PING.
	startTimeout = 10 * time.Second
	// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
	stopGrace = 5 * time.Second
	// freePortTries is how often Start retries with a new port when it
	// picked the port itself and the server could not bind it.
	freePortTries = 3
	// logFile is the server's log, inside Options.Dir.
	logFile = "redis.log"
)

// Options configures Start.
type Options struct {
	// Dir is the server's working directory: data files and redis.log.
	// Required by Start; StartT defaults it to t.TempDir().
	Dir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// AppendOnly turns on the append-only file (appendfsync everysec), so a
	// restarted server keeps its data; off, a restart starts empty.
	AppendOnly bool
	// ExtraArgs are passed to redis-server after the others (e.g.
	// "--maxmemory", "64mb").
	ExtraArgs []string
}

// Server is a running (or stopped) redis-server child process. Its methods
// are safe for concurrent use.
type Server struct {
	bin  string
	opts Options // Dir absolute, Port fixed once started

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
	stderr *bytes.Buffer
}

// Start runs redis-server from PATH bound to 127.0.0.1 with persistence
// snapshots off (--save ""), waits until it answers PING and returns it. If
// it does not answer within 10 s it is killed and an error returned.
func Start(o Options) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redisserver: redis-server not found in PATH (install it: apt-get install -y redis-server): %w", err)
	}
	if o.Dir == "" {
		return nil, errors.New("redisserver: Options.Dir is required")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("redisserver: dir %s: %w", o.Dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("redisserver: dir %s: %w", dir, err)
	}
	o.Dir = dir
	o.ExtraArgs = append([]string(nil), o.ExtraArgs...)
	s := &Server{bin: bin, opts: o}
	pickPort := o.Port == 0
	tries := 1
	if pickPort {
		tries = freePortTries
	}
	for i := 0; ; i++ {
		if pickPort {
			p, err := FreePort()
			if err != nil {
				return nil, err
			}
			s.opts.Port = p
		}
		s.mu.Lock()
		err = s.startLocked()
		s.mu.Unlock()
		if err == nil {
			return s, nil
		}
		if i+1 >= tries {
			return nil, err
		}
	}
}

// StartT starts a server for a test: Dir defaults to t.TempDir(), the server
// is stopped by t.Cleanup, and any error fails the test.
func StartT(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	s, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("redisserver: stop: %v", err)
		}
	})
	return s
}

// Addr is the server's "127.0.0.1:port" address.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.opts.Port))
}

// Dir is the server's working directory (absolute).
func (s *Server) Dir() string { return s.opts.Dir }

// LogPath is the path of the server's log file.
func (s *Server) LogPath() string { return filepath.Join(s.opts.Dir, logFile) }

// Stop sends SIGTERM and waits for the server to exit, sending SIGKILL
// after 5 s. Stopping a stopped server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked(syscall.SIGTERM)
}

// Kill sends SIGKILL and waits for the server to exit: data not yet written
// to the append-only file is lost, as in a crash.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked(syscall.SIGKILL)
}

// Restart stops the server if it is running and starts it again on the
// same port and directory.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stopLocked(syscall.SIGTERM); err != nil {
		return err
	}
	return s.startLocked()
}

// startLocked starts the process and waits for PING. s.mu must be held.
func (s *Server) startLocked() error {
	aof := "no"
	if s.opts.AppendOnly {
		aof = "yes"
	}
	args := []string{
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(s.opts.Port),
		"--dir", s.opts.Dir,
		"--save", "",
		"--appendonly", aof,
		"--daemonize", "no",
		"--logfile", filepath.Join(s.opts.Dir, logFile),
	}
	args = append(args, s.opts.ExtraArgs...)
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.opts.Dir
	stderr := new(bytes.Buffer)
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redisserver: start %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited, s.stderr = cmd, exited, stderr

	deadline := time.Now().Add(startTimeout)
	for {
		if err := ping(s.Addr()); err == nil {
			return nil
		}
		select {
		case <-exited:
			s.cmd = nil
			return fmt.Errorf("redisserver: redis-server on %s exited at start (%s): %s%s",
				s.Addr(), cmd.ProcessState, strings.TrimSpace(stderr.String()), s.logTail())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = s.stopLocked(syscall.SIGKILL)
			return fmt.Errorf("redisserver: redis-server on %s did not answer PING within %s%s",
				s.Addr(), startTimeout, s.logTail())
		}
	}
}

// stopLocked signals the process and waits for it; after SIGTERM it falls
// back to SIGKILL after stopGrace. s.mu must be held.
func (s *Server) stopLocked(sig syscall.Signal) error {
	if s.cmd == nil {
		return nil
	}
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	select {
	case <-exited:
		return nil
	default:
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("redisserver: signal %v: %w", sig, err)
	}
	if sig != syscall.SIGKILL {
		select {
		case <-exited:
			return nil
		case <-time.After(stopGrace):
			_ = cmd.Process.Kill()
		}
	}
	<-exited
	return nil
}

// logTail returns the end of the server's log for error messages.
func (s *Server) logTail() string {
	b, err := os.ReadFile(s.LogPath())
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "; log tail:\n" + string(b)
}

// ping sends PING and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("redisserver: PING answered %q", strings.TrimSpace(line))
	}
	return nil
}
