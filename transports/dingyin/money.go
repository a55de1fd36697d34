package dingyin

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"topup/engine"
)

// errAmount is wrapped by ParseYuan's errors.
var errAmount = errors.New("dingyin: bad amount")

// ParseYuan parses a decimal amount in yuan ("98.5", "-3.125", "7") into fen
// without going through a float, rounding half up (away from zero) below the
// fen. Surrounding white space is ignored; exponents, signs other than a
// leading '-', and a missing integer part are rejected.
func ParseYuan(s string) (engine.Fen, error) {
	fen, err := engine.ParseYuan(strings.TrimSpace(s), engine.HalfUpFen)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errAmount, err)
	}
	return fen, nil
}

// FormatYuan renders f in yuan with two decimals ("98.50"), which ParseYuan
// reads back exactly.
func FormatYuan(f engine.Fen) string {
	return string(appendYuan(make([]byte, 0, 24), f))
}

func appendYuan(dst []byte, f engine.Fen) []byte {
	u := uint64(f)
	if f < 0 {
		dst = append(dst, '-')
		u = -u
	}
	dst = strconv.AppendUint(dst, u/100, 10)
	c := u % 100
	return append(dst, '.', byte('0'+c/10), byte('0'+c%10))
}
