package sockmod

import (
	"fmt"

	"topup/engine"
)

// maxFen is the largest amount parseYuan returns, so that every amount it
// accepts re-encodes to text it accepts again.
const maxFen = 99_999_999_999_999_999

// rounding selects how parseYuan treats digits below the fen.
type rounding = engine.Rounding

const (
	exactFen  = engine.ExactFen  // digits below the fen must be zero
	halfUpFen = engine.HalfUpFen // round half up (away from zero) to the fen
)

// parseYuan parses a decimal amount in yuan ("100.000", "-3.5", "7") into
// fen (engine.ParseYuan), bounded so that it re-encodes.
func parseYuan(s string, mode rounding) (engine.Fen, error) {
	fen, err := engine.ParseYuan(s, mode)
	if err != nil {
		return 0, err
	}
	if fen > maxFen || fen < -maxFen {
		return 0, fmt.Errorf("amount %q too large", s)
	}
	return fen, nil
}

// appendYuan3 appends f in yuan with exactly three decimals, the same text as
// engine.Fen.Yuan3, without allocating.
func appendYuan3(dst []byte, f engine.Fen) []byte {
	u := uint64(f)
	if f < 0 {
		dst = append(dst, '-')
		u = -u
	}
	dst = appendUint(dst, u/100)
	c := u % 100
	return append(dst, '.', byte('0'+c/10), byte('0'+c%10), '0')
}

func appendUint(dst []byte, v uint64) []byte {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(dst, tmp[i:]...)
}
