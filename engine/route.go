package engine

import "sort"

// Product is what may be sold and where it is routed.
type Product struct {
	OrderType  int
	Carriers   []int
	FaceValues []Fen
	Routes     []Route
	// DeadlineMs is how long after acceptance a supplier must have taken the
	// order; 0 means no deadline.
	DeadlineMs int64
}

// Matches reports whether the product covers the order's type, carrier and
// face value.
func (p *Product) Matches(orderType, carrier int, face Fen) bool {
	if p.OrderType != orderType {
		return false
	}
	okCarrier := false
	for _, c := range p.Carriers {
		if c == carrier {
			okCarrier = true
			break
		}
	}
	if !okCarrier {
		return false
	}
	for _, f := range p.FaceValues {
		if f == face {
			return true
		}
	}
	return false
}

// RouteCost is what a route costs for a face value, rounded up to the fen.
func RouteCost(r Route, face Fen) Fen {
	return Fen((int64(face)*r.CostPermille + 999) / 1000)
}

// PlanRoutes orders the routes an order will try: routes whose cost exceeds
// the charge are dropped; the rest are sorted by priority (lower first), and
// routes of equal priority are ordered by a weighted draw driven by seed, so
// that equal-priority routes share load by weight. Pure: the same inputs give
// the same plan.
func PlanRoutes(routes []Route, face, charge Fen, seed uint64) []Route {
	out := make([]Route, 0, len(routes))
	for _, r := range routes {
		if r.CostPermille > 0 && RouteCost(r, face) > charge {
			continue
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Priority < out[j].Priority })
	for i := 0; i < len(out); {
		j := i
		for j < len(out) && out[j].Priority == out[i].Priority {
			j++
		}
		weightedOrder(out[i:j], &seed)
		i = j
	}
	return out
}

// weightedOrder reorders group in place: each position is drawn among the
// remaining routes with probability proportional to weight (0 counts as 1).
func weightedOrder(group []Route, seed *uint64) {
	for k := 0; k < len(group)-1; k++ {
		total := uint64(0)
		for _, r := range group[k:] {
			total += uint64(max(r.Weight, 1))
		}
		pick := splitmix(seed) % total
		for m := k; m < len(group); m++ {
			w := uint64(max(group[m].Weight, 1))
			if pick < w {
				group[k], group[m] = group[m], group[k]
				break
			}
			pick -= w
		}
	}
}

// splitmix is SplitMix64: a tiny, well-mixed deterministic generator.
func splitmix(s *uint64) uint64 {
	*s += 0x9e3779b97f4a7c15
	z := *s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
