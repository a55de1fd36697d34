// Package simkit is the machinery the supplier simulators (bench/sockmodsim,
// bench/juhesim, bench/dingyinsim) share: deterministic weighted draws of
// outcomes, with the parsing and printing of their weights, and the delivery
// of callbacks with resends.
//
// A simulator keeps its own Mix and Kind types; it lists its Mix's weights
// in Kind order as Weights, and hands each order's callbacks to a Courier.
package simkit
