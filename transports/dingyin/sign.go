package dingyin

import (
	"crypto/md5"
	"crypto/subtle"
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// errNotGBK is wrapped when a value cannot be sent because GBK cannot
// represent it (or it is not valid UTF-8).
var errNotGBK = errors.New("dingyin: not representable in GBK")

// SubmitSign is the sign of a submission: upper-case hex MD5 of the GBK bytes
// of "userid=…&productid=…&num=…&areaid=…&serverid=…&account=…&spordertime=…&sporderid=…&key=…".
// A character GBK cannot represent is signed as the encoding's replacement
// byte; Client.Submit refuses such values, so they never reach a supplier.
func SubmitSign(userid, productid, num, areaid, serverid, account, spordertime, sporderid, key string) string {
	return submitSignGBK(signGBK(userid), signGBK(productid), signGBK(num), signGBK(areaid), signGBK(serverid),
		signGBK(account), signGBK(spordertime), signGBK(sporderid), signGBK(key))
}

// QuerySign is the sign of a status query: upper-case hex MD5 of the GBK
// bytes of "userid=…&sporderid=…&key=…".
func QuerySign(userid, sporderid, key string) string {
	return querySignGBK(signGBK(userid), signGBK(sporderid), signGBK(key))
}

// BalanceSign is the sign of a balance query: upper-case hex MD5 of the GBK
// bytes of "userid=…&key=…".
func BalanceSign(userid, key string) string {
	return balanceSignGBK(signGBK(userid), signGBK(key))
}

// CallbackSign is the sign of a result callback: upper-case hex MD5 of the
// GBK bytes of "userid=…&orderid=…&sporderid=…&merchantsubmittime=…&resultno=…&key=…".
func CallbackSign(userid, orderid, sporderid, merchantsubmittime, resultno, key string) string {
	b := make([]byte, 0, 160)
	b = appendPair(b, "userid=", signGBK(userid))
	b = appendPair(b, "&orderid=", signGBK(orderid))
	b = appendPair(b, "&sporderid=", signGBK(sporderid))
	b = appendPair(b, "&merchantsubmittime=", signGBK(merchantsubmittime))
	b = appendPair(b, "&resultno=", signGBK(resultno))
	b = appendPair(b, "&key=", signGBK(key))
	return md5Upper(b)
}

// submitSignGBK is SubmitSign over values already in GBK.
func submitSignGBK(userid, productid, num, areaid, serverid, account, spordertime, sporderid, key []byte) string {
	var buf [256]byte
	b := appendPair(buf[:0], "userid=", userid)
	b = appendPair(b, "&productid=", productid)
	b = appendPair(b, "&num=", num)
	b = appendPair(b, "&areaid=", areaid)
	b = appendPair(b, "&serverid=", serverid)
	b = appendPair(b, "&account=", account)
	b = appendPair(b, "&spordertime=", spordertime)
	b = appendPair(b, "&sporderid=", sporderid)
	b = appendPair(b, "&key=", key)
	return md5Upper(b)
}

// querySignGBK is QuerySign over values already in GBK.
func querySignGBK(userid, sporderid, key []byte) string {
	var buf [128]byte
	b := appendPair(buf[:0], "userid=", userid)
	b = appendPair(b, "&sporderid=", sporderid)
	b = appendPair(b, "&key=", key)
	return md5Upper(b)
}

// balanceSignGBK is BalanceSign over values already in GBK.
func balanceSignGBK(userid, key []byte) string {
	var buf [96]byte
	b := appendPair(buf[:0], "userid=", userid)
	b = appendPair(b, "&key=", key)
	return md5Upper(b)
}

func appendPair(dst []byte, prefix string, v []byte) []byte {
	return append(append(dst, prefix...), v...)
}

// signGBK is s in GBK for a signature, with unrepresentable characters
// replaced (see SubmitSign).
func signGBK(s string) []byte {
	if isASCII(s) {
		return []byte(s)
	}
	enc, err := encoding.ReplaceUnsupported(simplifiedchinese.GBK.NewEncoder()).Bytes([]byte(s))
	if err != nil {
		// Only invalid UTF-8 gets here: sign the raw bytes, which no peer
		// reproduces, so verification fails closed.
		return []byte(s)
	}
	return enc
}

const hexUpper = "0123456789ABCDEF"

// md5Upper is the upper-case hex MD5 of b.
func md5Upper(b []byte) string {
	sum := md5.Sum(b)
	var out [2 * md5.Size]byte
	for i, c := range sum {
		out[2*i] = hexUpper[c>>4]
		out[2*i+1] = hexUpper[c&0xf]
	}
	return string(out[:])
}

// signEqual compares a received sign with a computed upper-case one in
// constant time, ignoring the case of the received hex digits.
func signEqual(got, want string) bool {
	var buf [2 * md5.Size]byte
	if len(got) != len(buf) || len(want) != len(buf) {
		return false
	}
	for i := range len(got) {
		c := got[i]
		if 'a' <= c && c <= 'f' {
			c -= 'a' - 'A'
		}
		buf[i] = c
	}
	return subtle.ConstantTimeCompare(buf[:], []byte(want)) == 1
}

func isASCII[T string | []byte](s T) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// toGBK encodes s for the wire, refusing what GBK cannot represent.
func toGBK(s string) ([]byte, error) {
	if isASCII(s) {
		return []byte(s), nil
	}
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("%w: %q", errNotGBK, s)
	}
	return b, nil
}

// fromGBK decodes GBK bytes into UTF-8; invalid sequences become U+FFFD.
func fromGBK(b []byte) string {
	if isASCII(b) {
		return string(b)
	}
	s, err := simplifiedchinese.GBK.NewDecoder().Bytes(b)
	if err != nil {
		return string(b)
	}
	return string(s)
}

// appendForm appends name=value to a form body, value URL-encoded as is
// (it is already GBK): unreserved bytes are kept, space becomes '+', every
// other byte %XX.
func appendForm(dst []byte, name string, value []byte) []byte {
	if len(dst) > 0 {
		dst = append(dst, '&')
	}
	dst = append(dst, name...)
	dst = append(dst, '=')
	for _, c := range value {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			dst = append(dst, c)
		case c == ' ':
			dst = append(dst, '+')
		default:
			dst = append(dst, '%', hexUpper[c>>4], hexUpper[c&0xf])
		}
	}
	return dst
}
