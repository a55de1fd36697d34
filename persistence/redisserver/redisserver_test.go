package redisserver

import (
	"os"
	"path/filepath"
	"testing"
)

func TestStartStopRestart(t *testing.T) {
	s := StartT(t, Options{AppendOnly: true})
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "redis.log")); err != nil {
		t.Fatalf("log file: %v", err)
	}
	addr := s.Addr()
	if err := s.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	if err := ping(addr); err == nil {
		t.Fatal("server still answers after Kill")
	}
	if err := s.Restart(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	if s.Addr() != addr {
		t.Fatalf("restart moved from %s to %s", addr, s.Addr())
	}
	if err := ping(addr); err != nil {
		t.Fatalf("ping after restart: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second stop: %v", err)
	}
}

func TestStartNeedsDir(t *testing.T) {
	if _, err := Start(Options{}); err == nil {
		t.Fatal("Start without Dir succeeded")
	}
}

func TestStartFailsOnBadArgs(t *testing.T) {
	_, err := Start(Options{Dir: t.TempDir(), ExtraArgs: []string{"--no-such-option", "1"}})
	if err == nil {
		t.Fatal("Start with a bad option succeeded")
	}
	t.Log(err)
}
