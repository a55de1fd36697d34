package load

import (
	"math"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Summary is a latency distribution in milliseconds.
type Summary struct {
	// Count is the number of values recorded.
	Count int64 `json:"count"`
	// Min, Mean, P50, P90, P99, P999 (99.9th percentile) and Max are in
	// milliseconds.
	Min  float64 `json:"min_ms"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
}

// usToMs converts a histogram value (µs) to milliseconds, rounded to the
// microsecond.
func usToMs(v int64) float64 { return float64(v) / 1000 }

// Summarize reads the summary of a histogram of microseconds. A nil or
// empty histogram gives the zero Summary.
func Summarize(h *hdrhistogram.Histogram) Summary {
	if h == nil || h.TotalCount() == 0 {
		return Summary{}
	}
	return Summary{
		Count: h.TotalCount(),
		Min:   usToMs(h.Min()),
		Mean:  math.Round(h.Mean()) / 1000,
		P50:   usToMs(h.ValueAtQuantile(50)),
		P90:   usToMs(h.ValueAtQuantile(90)),
		P99:   usToMs(h.ValueAtQuantile(99)),
		P999:  usToMs(h.ValueAtQuantile(99.9)),
		Max:   usToMs(h.Max()),
	}
}

// Point is one point of a percentile spectrum: the latency (ms) at or below
// which Percentile per cent of the values lie.
type Point struct {
	// Percentile is 0 (the minimum) to 100 (the maximum).
	Percentile float64 `json:"percentile"`
	// Ms is the latency in milliseconds.
	Ms float64 `json:"ms"`
}

// spectrumPercentiles are the percentiles Spectrum reports, spread over the
// usual log(1/(1-p)) axis of latency percentile plots.
func spectrumPercentiles() []float64 {
	return []float64{0, 10, 25, 50, 75, 80, 90, 95, 97, 98, 99, 99.5, 99.7, 99.8, 99.9, 99.95, 99.97, 99.99, 99.995, 99.999, 100}
}

// Spectrum is the percentile spectrum of a histogram of microseconds, from
// the minimum (0) to the maximum (100). Percentiles beyond what the count
// can resolve (more than one value in 10·count) are left out, except 100.
func Spectrum(h *hdrhistogram.Histogram) []Point {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	n := float64(h.TotalCount())
	ps := spectrumPercentiles()
	out := make([]Point, 0, len(ps))
	for _, p := range ps {
		if p != 100 && p > 0 && (100-p)/100*n < 0.1 {
			continue
		}
		v := h.ValueAtQuantile(p)
		if p == 0 {
			v = h.Min()
		}
		if p == 100 {
			v = h.Max()
		}
		out = append(out, Point{Percentile: p, Ms: usToMs(v)})
	}
	return out
}
