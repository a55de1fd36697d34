package dingyin

import (
	"crypto/md5"
	"encoding/hex"
	"strings"
	"testing"
)

const (
	testKey  = "bff0378ea5ef0d5d"
	testUser = "10001"
	// zhangSanGBK is "张三" in GBK, written out by hand.
	zhangSanGBK = "\xd5\xc5\xc8\xfd"
)

// Expected digests were computed outside Go (Python's hashlib over
// str.encode("gbk")) from the texts in the comments.
func TestSignVectors(t *testing.T) {
	cases := []struct {
		name, got, want string
	}{
		{
			// userid=10001&productid=&num=1&areaid=&serverid=&account=张三&spordertime=20210224134552&sporderid=2009042800001&key=…
			"submit, Chinese and empty values",
			SubmitSign(testUser, "", "1", "", "", "张三", "20210224134552", "2009042800001", testKey),
			"A96E5C585B01976427A6B45C2E4A0DE7",
		},
		{
			"submit, ASCII",
			SubmitSign(testUser, "3312", "1", "", "", "13590101510", "20090428120000", "2009042800001", testKey),
			"680187136A519FAAC25D68A3ACEA3B28",
		},
		{"query", QuerySign(testUser, "2009042800001", testKey), "8E8763C1299211D9B2A35AD67D62169D"},
		{"balance", BalanceSign(testUser, testKey), "A2F944D3502777962BDD47264CF41A6A"},
		{
			"callback",
			CallbackSign(testUser, "XS090428000003", "2009042800001", "20210224134552", "1", testKey),
			"0EC73D975CAE7F4DC9D6A8AB6BA2F113",
		},
		{
			"callback, empty values",
			CallbackSign(testUser, "", "2009042800001", "", "9", testKey),
			"7C30A1436F3C89C33FD8DFBDEF303540",
		},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, c.got, c.want)
		}
	}

	// The same Chinese vector once more with the GBK bytes written by hand
	// and hashed by crypto/md5 directly.
	text := "userid=10001&productid=&num=1&areaid=&serverid=&account=" + zhangSanGBK +
		"&spordertime=20210224134552&sporderid=2009042800001&key=" + testKey
	sum := md5.Sum([]byte(text))
	if want := strings.ToUpper(hex.EncodeToString(sum[:])); want != cases[0].want {
		t.Fatalf("hand-encoded vector %s disagrees with %s", want, cases[0].want)
	}
}

func TestSignEqual(t *testing.T) {
	want := QuerySign(testUser, "1", testKey)
	for _, got := range []string{want, strings.ToLower(want)} {
		if !signEqual(got, want) {
			t.Errorf("signEqual(%q) = false", got)
		}
	}
	bad := []string{"", want[:31], want + "0", "G" + want[1:], strings.Replace(want, want[:1], "0", 1) + "x"}
	flipped := []byte(want)
	if flipped[0] == '0' {
		flipped[0] = '1'
	} else {
		flipped[0] = '0'
	}
	bad = append(bad, string(flipped))
	for _, got := range bad {
		if signEqual(got, want) {
			t.Errorf("signEqual(%q) = true", got)
		}
	}
}

func TestAppendForm(t *testing.T) {
	b := appendForm(nil, "a", []byte(zhangSanGBK+" a+b/~.-_"))
	b = appendForm(b, "e", nil)
	if got, want := string(b), "a=%D5%C5%C8%FD+a%2Bb%2F~.-_&e="; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestGBKRefusesUnrepresentable(t *testing.T) {
	if _, err := toGBK("138😀"); err == nil {
		t.Error("emoji encoded to GBK")
	}
	if b, err := toGBK("张三"); err != nil || string(b) != zhangSanGBK {
		t.Errorf("toGBK(张三) = %x, %v", b, err)
	}
	if s := fromGBK([]byte(zhangSanGBK)); s != "张三" {
		t.Errorf("fromGBK = %q", s)
	}
}

func BenchmarkSubmitSign(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = SubmitSign(testUser, "3312", "1", "", "", "13590101510", "20090428120000", "2009042800001", testKey)
	}
}

func BenchmarkSubmitSignGBK(b *testing.B) {
	user, prod, num, acct := []byte(testUser), []byte("3312"), []byte("1"), []byte("13590101510")
	when, spo, key := []byte("20090428120000"), []byte("2009042800001"), []byte(testKey)
	b.ReportAllocs()
	for b.Loop() {
		_ = submitSignGBK(user, prod, num, nil, nil, acct, when, spo, key)
	}
}
