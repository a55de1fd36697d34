package engine

import (
	"errors"
	"fmt"
)

// ErrAmount is wrapped by ParseYuan's errors.
var ErrAmount = errors.New("engine: bad amount")

// maxYuanDigits bounds the integer part of an amount so that its value in
// fen always fits an int64.
const maxYuanDigits = 15

// Rounding says what ParseYuan does with digits below the fen.
type Rounding uint8

// Roundings.
const (
	// ExactFen: digits below the fen must be zero ("100.000" yes, "99.105" no).
	ExactFen Rounding = iota
	// HalfUpFen: round half up (away from zero) on the third decimal.
	HalfUpFen
)

// ParseYuan parses a decimal amount in yuan ("100.000", "-3.5", "7") into
// fen without going through a float. An optional leading '-' is allowed;
// exponents, other signs, white space and a missing integer part are not.
func ParseYuan(s string, r Rounding) (Fen, error) {
	orig := s
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	i := 0
	var fen int64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if i == maxYuanDigits {
			return 0, fmt.Errorf("%w: %q too large", ErrAmount, orig)
		}
		fen = fen*10 + int64(s[i]-'0')
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%w: %q is not a decimal number", ErrAmount, orig)
	}
	fen *= 100
	if i < len(s) {
		if s[i] != '.' || i+1 == len(s) {
			return 0, fmt.Errorf("%w: %q is not a decimal number", ErrAmount, orig)
		}
		for k, c := range []byte(s[i+1:]) {
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("%w: %q is not a decimal number", ErrAmount, orig)
			}
			switch {
			case k == 0:
				fen += int64(c-'0') * 10
			case k == 1:
				fen += int64(c - '0')
			case r == ExactFen && c != '0':
				return 0, fmt.Errorf("%w: %q is not a whole number of fen", ErrAmount, orig)
			case r == HalfUpFen && k == 2 && c >= '5':
				fen++
			}
		}
	}
	if neg {
		fen = -fen
	}
	return Fen(fen), nil
}
