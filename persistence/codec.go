package persistence

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"topup/engine"
)

// ErrCorrupt reports a stored record or key that cannot be decoded.
var ErrCorrupt = errors.New("persistence: corrupt record")

// Key prefixes of the order log. ON-DISK FORMAT, see doc.go.
const (
	prefixOrder    byte = 'o'
	prefixOrderNo  byte = 'x'
	prefixLive     byte = 'l'
	prefixFunding  byte = 'f'
	prefixMerchant byte = 'm'
	prefixSeq      byte = 's'

	// keySep separates the variable-length parts of a key.
	keySep byte = 0x00
)

// Record versions. ON-DISK FORMAT, see doc.go.
const (
	recordV1JSON  byte = 1 // JSON body: fundings, merchants; orders written before V2
	recordV2Order byte = 2 // protobuf wire body of an engine.Order, see ordercodec.go
)

// encodeRecord is the one place that knows how a version 1 record body is
// written. Orders are written as version 2 by encodeOrder.
func encodeRecord(v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("persistence: encode record: %w", err)
	}
	out := make([]byte, 0, 1+len(body))
	out = append(out, recordV1JSON)
	return append(out, body...), nil
}

// decodeRecord is the one place that knows how a record body is read. A
// version 2 record is an order and decodes only into an *engine.Order.
func decodeRecord(b []byte, v any) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: empty value", ErrCorrupt)
	}
	switch b[0] {
	case recordV1JSON:
		if err := json.Unmarshal(b[1:], v); err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return nil
	case recordV2Order:
		o, ok := v.(*engine.Order)
		if !ok {
			return fmt.Errorf("%w: order record (version %d) read as %T", ErrCorrupt, b[0], v)
		}
		return decodeOrder(b, o)
	default:
		return fmt.Errorf("%w: unknown record version %d", ErrCorrupt, b[0])
	}
}

func idKey(prefix byte, id engine.ID) []byte {
	k := make([]byte, 9)
	k[0] = prefix
	binary.BigEndian.PutUint64(k[1:], uint64(id))
	return k
}

func orderKey(id engine.ID) []byte { return idKey(prefixOrder, id) }
func liveKey(id engine.ID) []byte  { return idKey(prefixLive, id) }

// keyID decodes the id of an 'o' or 'l' key.
func keyID(k []byte) (engine.ID, error) {
	if len(k) != 9 {
		return 0, fmt.Errorf("%w: key %q: want 9 bytes", ErrCorrupt, k)
	}
	return engine.ID(binary.BigEndian.Uint64(k[1:])), nil
}

func pairKey(prefix byte, a, b string) []byte {
	k := make([]byte, 0, 2+len(a)+len(b))
	k = append(k, prefix)
	k = append(k, a...)
	k = append(k, keySep)
	return append(k, b...)
}

func orderNoKey(uid, orderNo string) []byte { return pairKey(prefixOrderNo, uid, orderNo) }
func fundingKey(uid, fundingID string) []byte {
	return pairKey(prefixFunding, uid, fundingID)
}

func merchantKey(uid string) []byte {
	k := make([]byte, 0, 1+len(uid))
	k = append(k, prefixMerchant)
	return append(k, uid...)
}

func seqKey() []byte { return []byte{prefixSeq} }

// prefixBounds returns the iterator bounds covering every key that starts
// with p.
func prefixBounds(p []byte) (lower, upper []byte) {
	lower = append([]byte(nil), p...)
	upper = append([]byte(nil), p...)
	for i := len(upper) - 1; i >= 0; i-- {
		if upper[i] != 0xff {
			upper[i]++
			return lower, upper[:i+1]
		}
	}
	return lower, nil
}

func encodeUint64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func decodeUint64(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: want 8 bytes, have %d", ErrCorrupt, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

// checkKeyPart refuses a key component that is empty or would break the key
// layout.
func checkKeyPart(what, s string) error {
	if s == "" {
		return fmt.Errorf("persistence: empty %s", what)
	}
	if strings.IndexByte(s, keySep) >= 0 {
		return fmt.Errorf("persistence: %s %q contains a NUL byte", what, s)
	}
	return nil
}
