package simkit

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// kind stands for a simulator's Kind.
type kind uint8

func (k kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

var kindNames = []string{"success", "fail", "fail_target", "uncertain", "nocallback", "partial"}

func TestDrawDistribution(t *testing.T) {
	w := Weights[kind]{80, 10, 3, 4, 2, 1}
	const n = 10_000
	counts := make([]int, len(w))
	for i := range n {
		counts[w.Draw(42, strconv.Itoa(13800000000+i))]++
	}
	for k, v := range w {
		p := float64(v) / float64(w.Total())
		mean := p * n
		sd := math.Sqrt(n * p * (1 - p))
		if d := math.Abs(float64(counts[k]) - mean); d > 5*sd+3 {
			t.Errorf("%s: %d of %d, expected %.0f±%.0f", kind(k), counts[k], n, mean, 5*sd)
		}
	}
}

func TestDrawDeterministicAndSeeded(t *testing.T) {
	w := Weights[kind]{1, 1}
	differ := 0
	for i := range 1000 {
		key := fmt.Sprintf("139%08d", i)
		if w.Draw(1, key) != w.Draw(1, key) {
			t.Fatal("Draw is not deterministic")
		}
		if w.Draw(1, key) != w.Draw(2, key) {
			differ++
		}
	}
	if differ < 400 || differ > 600 {
		t.Errorf("changing the seed changed %d of 1000 draws, want about 500", differ)
	}
	if k := (Weights[kind]{0, 0, 0}).Draw(1, "x"); k != 0 {
		t.Errorf("all-zero weights: %v", k)
	}
	if k := (Weights[kind]{0, -3, 0, 0, 0, 5}).Draw(1, "x"); k != 5 {
		t.Errorf("single positive weight: %v", k)
	}
}

// The draws must never change: tests elsewhere predict outcomes with them.
func TestDrawGolden(t *testing.T) {
	for _, tc := range []struct {
		w    Weights[kind]
		seed uint64
		step int
		want string
	}{
		{Weights[kind]{80, 10, 3, 4, 2, 1}, 42, 7919, "0100000000300000100000010000000000000000"},
		{Weights[kind]{1, 1, 1, 1, 1, 1}, 7, 1, "4133003003500320315141154130140510400003"},
	} {
		var b strings.Builder
		for i := range 40 {
			b.WriteString(strconv.Itoa(int(tc.w.Draw(tc.seed, strconv.Itoa(13800000000+i*tc.step)))))
		}
		if b.String() != tc.want {
			t.Errorf("%v seed %d: draws %s, want %s", tc.w, tc.seed, b.String(), tc.want)
		}
	}
}

func TestWeightsStringTotalValidate(t *testing.T) {
	w := Weights[kind]{80, 10, 3, 4, 2, 1}
	if s := w.String(); s != "success=80,fail=10,fail_target=3,uncertain=4,nocallback=2,partial=1" {
		t.Errorf("String: %s", s)
	}
	if w.Total() != 100 || w.Validate() != nil {
		t.Errorf("Total %d, Validate %v", w.Total(), w.Validate())
	}
	err := Weights[kind]{1, -1, 0, 0, 0, -2}.Validate()
	if err == nil || !strings.Contains(err.Error(), "mix: fail weight -1 is negative") ||
		!strings.Contains(err.Error(), "mix: partial weight -2 is negative") {
		t.Errorf("Validate: %v", err)
	}
}

func TestParseMix(t *testing.T) {
	parse := func(s string) (Weights[kind], error) {
		w := make(Weights[kind], len(kindNames))
		err := ParseMix(s, func(name string) *int {
			if name == "no_callback" {
				name = "nocallback"
			}
			for k, n := range kindNames {
				if n == name {
					return &w[k]
				}
			}
			return nil
		})
		return w, err
	}
	w, err := parse(" Success = 80, FAIL=10,fail_target=3,uncertain=4,no_callback=2,partial=1")
	if err != nil || w.String() != "success=80,fail=10,fail_target=3,uncertain=4,nocallback=2,partial=1" {
		t.Errorf("got %v, %v", w, err)
	}
	if back, err := parse(w.String()); err != nil || back.String() != w.String() {
		t.Errorf("String round trip: %v, %v", back, err)
	}
	for in, want := range map[string]string{
		"":           "mix: empty",
		"success":    `mix: "success" is not kind=weight`,
		"success=1,": `mix: "" is not kind=weight`,
		"success=x":  `mix: weight of "success" must be a non-negative integer`,
		"success=-1": `mix: weight of "success" must be a non-negative integer`,
		"wat =3":     `mix: unknown kind "wat "`,
	} {
		if _, err := parse(in); err == nil || err.Error() != want {
			t.Errorf("ParseMix(%q): %v, want %s", in, err, want)
		}
	}
}

func TestLatency(t *testing.T) {
	if d := NewLatency(time.Second, 0, 1, 2).Draw(); d != time.Second {
		t.Errorf("no jitter: %v", d)
	}
	l := NewLatency(10*time.Millisecond, 20*time.Millisecond, 1, 2)
	seen := map[bool]int{}
	for range 1000 {
		d := l.Draw()
		if d < 0 || d > 30*time.Millisecond {
			t.Fatalf("draw %v out of 0..30ms", d)
		}
		seen[d == 0]++
	}
	if seen[true] == 0 || seen[false] == 0 {
		t.Errorf("draws clamped at zero %d times of 1000", seen[true])
	}
	a, b := NewLatency(0, time.Second, 9, 9), NewLatency(0, time.Second, 9, 9)
	for range 100 {
		if a.Draw() != b.Draw() {
			t.Fatal("same seed, different draws")
		}
	}
}
