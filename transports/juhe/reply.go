package juhe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"topup/engine"
)

// errReply: a reply body is not a JSON object with an integer error_code.
var errReply = errors.New("juhe: unparseable reply")

// reply is a decoded submit or query reply. Result fields absent from the
// reply are empty.
type reply struct {
	Code   int
	Reason string
	Result replyResult
}

// replyResult holds the fields of "result" that either reply may carry.
type replyResult struct {
	SporderID  string
	OrderID    string
	Phone      string
	Pid        string
	UOrderCash string
	GameState  string
}

// wireReply is the JSON shape of a reply. error_code is a json.Number so
// that both 0 and "0" decode; result is decoded separately because it is
// null, "" or [] on errors.
type wireReply struct {
	ErrorCode json.Number     `json:"error_code"`
	Reason    text            `json:"reason"`
	Result    json.RawMessage `json:"result"`
}

type wireResult struct {
	SporderID  text `json:"sporder_id"`
	OrderID    text `json:"orderid"`
	Phone      text `json:"phone"`
	Pid        text `json:"pid"`
	UOrderCash text `json:"uordercash"`
	GameState  text `json:"game_state"`
}

// text is a JSON scalar read as text: a string as is, a number, true or
// false as written, null as "". Objects and arrays are errors.
type text string

// UnmarshalJSON implements json.Unmarshaler.
func (t *text) UnmarshalJSON(b []byte) error {
	if len(b) == 0 {
		return errors.New("empty value")
	}
	switch b[0] {
	case '"':
		// The decoder has checked the syntax already: without escapes and
		// with valid UTF-8 the text is the bytes between the quotes.
		if inner := b[1 : len(b)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			*t = text(inner)
			return nil
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
	case 'n':
		*t = ""
	case '{', '[':
		return fmt.Errorf("%.16q is not a scalar", b)
	default:
		*t = text(b)
	}
	return nil
}

// parseReply decodes a reply body. It fails, wrapping errReply, unless the
// body is one JSON object whose error_code is an integer.
func parseReply(body []byte) (reply, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return reply{}, fmt.Errorf("%w: not a JSON object", errReply)
	}
	var w wireReply
	if err := json.Unmarshal(body, &w); err != nil {
		return reply{}, fmt.Errorf("%w: %w", errReply, err)
	}
	if w.ErrorCode == "" {
		return reply{}, fmt.Errorf("%w: no error_code", errReply)
	}
	code, err := strconv.Atoi(string(w.ErrorCode))
	if err != nil {
		return reply{}, fmt.Errorf("%w: error_code %q is not an integer", errReply, string(w.ErrorCode))
	}
	r := reply{Code: code, Reason: string(w.Reason)}
	if res := bytes.TrimSpace(w.Result); len(res) > 0 && res[0] == '{' {
		var wr wireResult
		if err := json.Unmarshal(res, &wr); err != nil {
			return reply{}, fmt.Errorf("%w: result: %w", errReply, err)
		}
		r.Result = replyResult{
			SporderID:  string(wr.SporderID),
			OrderID:    string(wr.OrderID),
			Phone:      string(wr.Phone),
			Pid:        string(wr.Pid),
			UOrderCash: string(wr.UOrderCash),
			GameState:  string(wr.GameState),
		}
	}
	return r, nil
}

// parseYuan parses a non-negative decimal amount in yuan ("19.630", "7",
// "0.5") into fen, rounded half up at the third decimal, without a float.
// Signs, exponents and empty parts are rejected.
func parseYuan(s string) (engine.Fen, error) {
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("juhe: amount %q is not a decimal number", s)
	}
	fen, err := engine.ParseYuan(s, engine.HalfUpFen)
	if err != nil {
		return 0, fmt.Errorf("juhe: %w", err)
	}
	return fen, nil
}
