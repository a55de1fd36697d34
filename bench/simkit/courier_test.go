package simkit

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// script is a Callback whose messages fail as told; it records what the
// courier did with it.
type script struct {
	mu        sync.Mutex
	failures  []int // per message, how many attempts fail first
	attempts  []int
	delivered []bool
	gap       time.Duration
}

func newScript(gap time.Duration, failures ...int) *script {
	return &script{failures: failures, attempts: make([]int, len(failures)), gap: gap}
}

func (s *script) Push() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := len(s.delivered)
	s.attempts[i]++
	if s.attempts[i] <= s.failures[i] {
		return errors.New("refused")
	}
	return nil
}

func (s *script) Next(delivered bool) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delivered = append(s.delivered, delivered)
	return s.gap, len(s.delivered) < len(s.failures)
}

func (s *script) result() ([]int, []bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.attempts...), append([]bool(nil), s.delivered...)
}

func startCourier(t *testing.T, cfg CourierConfig) *Courier {
	t.Helper()
	done := make(chan struct{})
	c := StartCourier(cfg, done)
	t.Cleanup(func() { close(done); c.Wait() })
	return c
}

func waitIdle(t *testing.T, c *Courier) Counts {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.Counts().Pending != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("still pending: %+v", c.Counts())
		}
		time.Sleep(time.Millisecond)
	}
	return c.Counts()
}

func TestCourierResendsAndMovesOn(t *testing.T) {
	c := startCourier(t, CourierConfig{Senders: 2, MaxPending: 10, Retries: 2, RetryInterval: time.Millisecond})
	// Message 1 gets through on the third attempt, message 2 never does,
	// message 3 at once: every message is tried after the one before.
	s := newScript(time.Millisecond, 2, 5, 0)
	if !c.Admit() {
		t.Fatal("not admitted")
	}
	c.Send(0, s)
	got := waitIdle(t, c)
	attempts, delivered := s.result()
	if want := []int{3, 3, 1}; attempts[0] != want[0] || attempts[1] != want[1] || attempts[2] != want[2] {
		t.Errorf("attempts %v, want %v", attempts, want)
	}
	if len(delivered) != 3 || !delivered[0] || delivered[1] || !delivered[2] {
		t.Errorf("delivered %v", delivered)
	}
	if want := (Counts{CallbacksSent: 7, CallbacksOK: 2, CallbacksFailed: 5, CallbacksAbandoned: 1}); got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
}

func TestCourierDeliverOnCallersGoroutine(t *testing.T) {
	c := startCourier(t, CourierConfig{Senders: 1, MaxPending: 10, RetryInterval: time.Millisecond})
	s := newScript(0, 0)
	c.Admit()
	c.Deliver(s)
	if attempts, delivered := s.result(); attempts[0] != 1 || len(delivered) != 1 || !delivered[0] {
		t.Errorf("after Deliver: attempts %v, delivered %v", attempts, delivered)
	}
	if got := c.Counts(); got != (Counts{CallbacksSent: 1, CallbacksOK: 1}) {
		t.Errorf("counts %+v", got)
	}
}

func TestCourierMaxPendingAndClose(t *testing.T) {
	done := make(chan struct{})
	c := StartCourier(CourierConfig{Senders: 1, MaxPending: 2, RetryInterval: time.Millisecond}, done)
	for range 3 {
		if c.Admit() {
			c.Send(50*time.Millisecond, newScript(0, 0))
		}
	}
	if got := c.Counts(); got.Pending != 2 || got.CallbacksDropped != 1 {
		t.Errorf("counts %+v", got)
	}
	if c.Admit() {
		t.Error("admitted beyond MaxPending")
	}
	// Closing done stops the senders: callbacks that come due afterwards
	// are not sent.
	close(done)
	c.Wait()
	time.Sleep(100 * time.Millisecond)
	if got := c.Counts(); got.CallbacksSent != 0 {
		t.Errorf("counts after close %+v", got)
	}
}

func TestCourierDiscard(t *testing.T) {
	c := startCourier(t, CourierConfig{Senders: 1, MaxPending: 1})
	if !c.Admit() {
		t.Fatal("not admitted")
	}
	c.Discard()
	if !c.Admit() {
		t.Error("a discarded callback still counts as pending")
	}
}
