package juhe

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
)

// SubmitSign is the sign of a submission: md5(openID + key + phone + pid +
// orderID) in lower-case hex.
func SubmitSign(openID, key, phone, pid, orderID string) string {
	return md5Hex(openID, key, phone, pid, orderID)
}

// CallbackSign is the sign of a status callback: md5(key + sporderID +
// orderID) in lower-case hex, where key is the account's appkey
// (Config.Key).
func CallbackSign(key, sporderID, orderID string) string {
	return md5Hex(key, sporderID, orderID)
}

// md5Hex is the lower-case hex MD5 of the concatenated parts.
func md5Hex(parts ...string) string {
	var buf [256]byte
	b := buf[:0]
	for _, p := range parts {
		b = append(b, p...)
	}
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// signEqual compares a received hex sign with the expected lower-case one in
// constant time, ignoring the case of the received sign.
func signEqual(got, want string) bool {
	if len(got) != len(want) {
		return false
	}
	var buf [64]byte
	b := buf[:0]
	for i := range len(got) {
		c := got[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return subtle.ConstantTimeCompare(b, []byte(want)) == 1
}
