package dingyin

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"topup/engine"
)

// maxYuanDigits bounds the integer part of an amount so that the value in
// fen always fits an int64.
const maxYuanDigits = 15

// errAmount is wrapped by ParseYuan's errors.
var errAmount = errors.New("dingyin: bad amount")

// ParseYuan parses a decimal amount in yuan ("98.5", "-3.125", "7") into fen
// without going through a float, rounding half up (away from zero) below the
// fen. Surrounding white space is ignored; exponents, signs other than a
// leading '-', and a missing integer part are rejected.
func ParseYuan(s string) (engine.Fen, error) {
	orig := s
	s = strings.TrimSpace(s)
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg = true
		s = s[1:]
	}
	i := 0
	var yuan int64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if i == maxYuanDigits {
			return 0, fmt.Errorf("%w: %q too large", errAmount, orig)
		}
		yuan = yuan*10 + int64(s[i]-'0')
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%w: %q is not a decimal number", errAmount, orig)
	}
	fen := yuan * 100
	if i < len(s) {
		if s[i] != '.' || i+1 == len(s) {
			return 0, fmt.Errorf("%w: %q is not a decimal number", errAmount, orig)
		}
		frac := s[i+1:]
		for _, c := range []byte(frac) {
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("%w: %q is not a decimal number", errAmount, orig)
			}
		}
		if len(frac) > 0 {
			fen += int64(frac[0]-'0') * 10
		}
		if len(frac) > 1 {
			fen += int64(frac[1] - '0')
		}
		if len(frac) > 2 && frac[2] >= '5' {
			fen++
		}
	}
	if neg {
		fen = -fen
	}
	return engine.Fen(fen), nil
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
