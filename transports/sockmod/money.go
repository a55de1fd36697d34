package sockmod

import (
	"fmt"

	"topup/engine"
)

// maxYuanDigits bounds the integer part of an amount so that the value in
// fen always fits an int64.
const maxYuanDigits = 15

// maxFen is the largest amount parseYuan returns, so that every amount it
// accepts re-encodes to text it accepts again.
const maxFen = 99_999_999_999_999_999

// rounding selects how parseYuan treats digits below the fen.
type rounding uint8

const (
	exactFen  rounding = iota // digits below the fen must be zero
	halfUpFen                 // round half up (away from zero) to the fen
)

// parseYuan parses a decimal amount in yuan ("100.000", "-3.5", "7") into
// fen without going through a float. Exponents are rejected.
func parseYuan(s string, mode rounding) (engine.Fen, error) {
	orig := s
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg = true
		s = s[1:]
	}
	i := 0
	var yuan int64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if i == maxYuanDigits {
			return 0, fmt.Errorf("amount %q too large", orig)
		}
		yuan = yuan*10 + int64(s[i]-'0')
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("amount %q is not a decimal number", orig)
	}
	fen := yuan * 100
	if i < len(s) {
		if s[i] != '.' || i+1 == len(s) {
			return 0, fmt.Errorf("amount %q is not a decimal number", orig)
		}
		frac := s[i+1:]
		for _, c := range []byte(frac) {
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("amount %q is not a decimal number", orig)
			}
		}
		scale := int64(10)
		for k := 0; k < 2 && k < len(frac); k++ {
			fen += int64(frac[k]-'0') * scale
			scale /= 10
		}
		if len(frac) > 2 {
			rest := frac[2:]
			switch mode {
			case exactFen:
				for _, c := range []byte(rest) {
					if c != '0' {
						return 0, fmt.Errorf("amount %q is not a whole number of fen", orig)
					}
				}
			case halfUpFen:
				if rest[0] >= '5' {
					fen++
				}
			}
		}
	}
	if fen > maxFen {
		return 0, fmt.Errorf("amount %q too large", orig)
	}
	if neg {
		fen = -fen
	}
	return engine.Fen(fen), nil
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
