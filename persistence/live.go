package persistence

import (
	"encoding/binary"
	"errors"
	"fmt"

	"topup/engine"
)

// LiveSummary is what start-up needs of a live order to decide whether it
// has work now or only waits on a supplier, without decoding the order.
type LiveSummary struct {
	ID    engine.ID
	State engine.State
	// Notify is the order's notification state.
	Notify engine.NotifyState
	// HeldAt is the order's hold time (0: not held).
	HeldAt int64
	// Attempt, SentAt and Channel describe the current attempt (0, 0, "" if none).
	Attempt int
	SentAt  int64
	Channel string
}

// liveSummaryVersion is the first byte of a live index value. ON-DISK FORMAT:
//
//	version 1: state (1 byte) | notify (1 byte) | uvarint held_at |
//	           uvarint attempt | uvarint sent_at | uvarint len(channel) | channel
//
// An empty value (written before version 1) means "no summary": the order
// itself is decoded.
const liveSummaryVersion = 1

func encodeLiveSummary(o *engine.Order) []byte {
	var ch string
	var n int
	var sent int64
	if a := o.Current(); a != nil {
		ch, n, sent = a.Route.Channel, a.N, a.SentAt
	}
	b := make([]byte, 0, 3+4*binary.MaxVarintLen64+len(ch))
	b = append(b, liveSummaryVersion, byte(o.State), byte(o.Notify))
	b = binary.AppendUvarint(b, uint64(o.HeldAt))
	b = binary.AppendUvarint(b, uint64(n))
	b = binary.AppendUvarint(b, uint64(sent))
	b = binary.AppendUvarint(b, uint64(len(ch)))
	return append(b, ch...)
}

var errNoSummary = errors.New("persistence: no live summary")

func decodeLiveSummary(id engine.ID, v []byte) (LiveSummary, error) {
	if len(v) == 0 {
		return LiveSummary{}, errNoSummary
	}
	if v[0] != liveSummaryVersion || len(v) < 3 {
		return LiveSummary{}, fmt.Errorf("%w: live summary of %s", ErrCorrupt, id)
	}
	s := LiveSummary{ID: id, State: engine.State(v[1]), Notify: engine.NotifyState(v[2])}
	rest := v[3:]
	var vals [4]uint64
	for i := range vals {
		x, k := binary.Uvarint(rest)
		if k <= 0 {
			return LiveSummary{}, fmt.Errorf("%w: live summary of %s", ErrCorrupt, id)
		}
		vals[i], rest = x, rest[k:]
	}
	if uint64(len(rest)) != vals[3] {
		return LiveSummary{}, fmt.Errorf("%w: live summary of %s", ErrCorrupt, id)
	}
	s.HeldAt, s.Attempt, s.SentAt, s.Channel = int64(vals[0]), int(vals[1]), int64(vals[2]), string(rest)
	return s, nil
}

func summaryOf(o *engine.Order) LiveSummary {
	s := LiveSummary{ID: o.ID, State: o.State, Notify: o.Notify, HeldAt: o.HeldAt}
	if a := o.Current(); a != nil {
		s.Attempt, s.SentAt, s.Channel = a.N, a.SentAt, a.Route.Channel
	}
	return s
}

// ScanLiveSummaries calls fn for every live order with its summary, reading
// only the live index (orders written before summaries existed are decoded).
// It is how start-up finds its work without decoding a million waiting
// orders.
func (l *Log) ScanLiveSummaries(fn func(s LiveSummary) error) error {
	snap := l.db.NewSnapshot()
	defer snap.Close()
	return l.scanIn(snap, "live summaries", []byte{prefixLive}, func(k, v []byte) error {
		id, err := keyID(k)
		if err != nil {
			return err
		}
		s, err := decodeLiveSummary(id, v)
		if errors.Is(err, errNoSummary) {
			var o engine.Order
			found, gerr := getRecord(snap, orderKey(id), &o)
			if gerr != nil || !found {
				return fmt.Errorf("persistence: scan live summaries: order %s: %w", id, errors.Join(gerr, ErrCorrupt))
			}
			s, err = summaryOf(&o), nil
		}
		if err != nil {
			return err
		}
		return fn(s)
	})
}
