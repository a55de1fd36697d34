package actors

import (
	"context"
	"testing"
	"time"

	"topup/engine"
)

type scriptedChannel struct {
	outcomes []engine.Outcome
	sent     int
}

func (c *scriptedChannel) Submit(context.Context, *engine.Order, engine.Attempt) engine.EvSubmitted {
	out := c.outcomes[min(c.sent, len(c.outcomes)-1)]
	c.sent++
	return engine.EvSubmitted{Outcome: out}
}

func TestBreakerOpensProbesAndCloses(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	ch := &scriptedChannel{outcomes: []engine.Outcome{engine.OutcomeUncertain}}
	g := Guard(ch, GuardConfig{Name: "x", MaxInflight: 4, Breaker: BreakerConfig{Window: 10, MinSamples: 4, FailRatio: 0.5, OpenFor: 30 * time.Second}}, nil, clock)
	c := g.Channel()
	o := &engine.Order{}
	for i := 0; i < 4; i++ {
		c.Submit(context.Background(), o, engine.Attempt{})
	}
	if g.State() != BreakerOpen || ch.sent != 4 {
		t.Fatalf("state %d after 4 failures, sent %d", g.State(), ch.sent)
	}
	ev := c.Submit(context.Background(), o, engine.Attempt{})
	if ev.Outcome != engine.OutcomeFailRoute || ch.sent != 4 {
		t.Fatalf("open breaker let a submission through: %+v sent %d", ev, ch.sent)
	}
	now = now.Add(31 * time.Second)
	if g.State() != BreakerHalfOpen {
		t.Fatalf("state %d after OpenFor", g.State())
	}
	c.Submit(context.Background(), o, engine.Attempt{}) // failed probe: open again
	if g.State() != BreakerOpen || ch.sent != 5 {
		t.Fatalf("failed probe: state %d sent %d", g.State(), ch.sent)
	}
	now = now.Add(31 * time.Second)
	ch.outcomes = []engine.Outcome{engine.OutcomeAccepted}
	c.Submit(context.Background(), o, engine.Attempt{})
	if g.State() != BreakerClosed {
		t.Fatalf("good probe: state %d", g.State())
	}
}

func TestLowBalanceTakesChannelOutOfRotation(t *testing.T) {
	ch := &scriptedChannel{outcomes: []engine.Outcome{engine.OutcomeAccepted}}
	g := Guard(ch, GuardConfig{Name: "x", LowBalance: 10000}, nil, nil)
	g.ReportBalance(9999)
	if ev := g.Channel().Submit(context.Background(), &engine.Order{}, engine.Attempt{}); ev.Outcome != engine.OutcomeFailRoute || ch.sent != 0 {
		t.Fatalf("low balance: %+v sent %d", ev, ch.sent)
	}
	g.ReportBalance(10000)
	if ev := g.Channel().Submit(context.Background(), &engine.Order{}, engine.Attempt{}); ev.Outcome != engine.OutcomeAccepted || ch.sent != 1 {
		t.Fatalf("balance restored: %+v sent %d", ev, ch.sent)
	}
}

func TestNextQueryAt(t *testing.T) {
	p := QueryPolicy{Schedule: []time.Duration{5 * time.Second, 15 * time.Second, time.Minute}}.withDefaults()
	cases := []struct{ now, want int64 }{
		{0, 5000}, {4999, 5000}, {5000, 20000}, {19999, 20000}, {20000, 80000}, {80000, 140000}, {1_000_000, 1_040_000},
	}
	for _, c := range cases {
		if got := p.nextQueryAt(0, c.now); got != c.want {
			t.Errorf("nextQueryAt(0, %d) = %d, want %d", c.now, got, c.want)
		}
	}
}
