package operapi

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"strconv"

	"topup/engine"
)

// hexMD5 is a lower-case hex MD5 digest.
type hexMD5 [2 * md5.Size]byte

// signBufSize is the stack buffer the sign input is assembled in; longer
// inputs spill to the heap but stay correct.
const signBufSize = 512

func sumHex(b []byte) hexMD5 {
	sum := md5.Sum(b)
	var out hexMD5
	hex.Encode(out[:], sum[:])
	return out
}

func orderDigest(uid, orderNo, phone string, face engine.Fen, key string) hexMD5 {
	var buf [signBufSize]byte
	b := append(buf[:0], uid...)
	b = append(b, orderNo...)
	b = append(b, phone...)
	b = strconv.AppendInt(b, int64(face), 10)
	b = append(b, key...)
	return sumHex(b)
}

func callbackDigest(uid, orderNo, phone string, face engine.Fen, status int, key string) hexMD5 {
	var buf [signBufSize]byte
	b := append(buf[:0], uid...)
	b = append(b, orderNo...)
	b = append(b, phone...)
	b = strconv.AppendInt(b, int64(face), 10)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, key...)
	return sumHex(b)
}

func concatDigest(a, b, c string) hexMD5 {
	var buf [signBufSize]byte
	s := append(buf[:0], a...)
	s = append(s, b...)
	s = append(s, c...)
	return sumHex(s)
}

func dataDigest(data []byte, key string) hexMD5 {
	var buf [signBufSize]byte
	s := append(buf[:0], data...)
	s = append(s, key...)
	return sumHex(s)
}

// signMatches reports, in time independent of the contents, whether given is
// want written in hex of any case.
func signMatches(want hexMD5, given string) bool {
	if len(given) != len(want) {
		return false
	}
	var low hexMD5
	for i := 0; i < len(given); i++ {
		c := given[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	return subtle.ConstantTimeCompare(low[:], want[:]) == 1
}

// OrderSign is the sign of an order push:
// md5(uid + order_no + phone_number + face_value + md5key), lower-case hex.
func OrderSign(uid, orderNo, phone string, face engine.Fen, key string) string {
	d := orderDigest(uid, orderNo, phone, face, key)
	return string(d[:])
}

// BalanceSign is the sign of a balance query: md5(uid + md5key), lower-case hex.
func BalanceSign(uid, key string) string {
	d := concatDigest(uid, key, "")
	return string(d[:])
}

// QuerySign is the sign of an order query: md5(uid + order_no + md5key),
// lower-case hex.
func QuerySign(uid, orderNo, key string) string {
	d := concatDigest(uid, orderNo, key)
	return string(d[:])
}

// CallbackSign is the sign of a result callback:
// md5(uid + order_no + phone_number + face_value + status + md5key), lower-case hex.
func CallbackSign(uid, orderNo, phone string, face engine.Fen, status int, key string) string {
	d := callbackDigest(uid, orderNo, phone, face, status, key)
	return string(d[:])
}

// DataSign is the sign of a signed reply: md5(data + md5key) over the exact
// bytes of the "data" JSON object, lower-case hex.
func DataSign(data []byte, key string) string {
	d := dataDigest(data, key)
	return string(d[:])
}

// DataSignOK reports whether sign is DataSign(data, key), compared in
// constant time and case-insensitively.
func DataSignOK(data []byte, key, sign string) bool {
	return signMatches(dataDigest(data, key), sign)
}
