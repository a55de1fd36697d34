package sockmod

import (
	"bytes"
	"strings"
	"testing"
)

func TestFrameEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want int
	}{
		{"empty", "", 0},
		{"whitespace only", " \r\n\t", 0},
		{"open brace", "{", 0},
		{"flat", `{"a":1}`, 7},
		{"leading whitespace", "\r\n {\"a\":1}", 10},
		{"trailing bytes", `{"a":1}{"b":2}`, 7},
		{"nested", `{"a":{"b":[1,{"c":[]}]},"d":2}`, 30},
		{"nested incomplete", `{"a":{"b":[1,{"c":[]}]}`, 0},
		{"brace in string", `{"a":"}{"}`, 10},
		{"escaped quote", `{"a":"\"}"}`, 11},
		{"escaped backslash then quote", `{"a":"\\"}`, 10},
		{"escaped backslash inside", `{"a":"\\\"}"}`, 13},
		{"string open", `{"a":"}`, 0},
		{"escape at end", `{"a":"\`, 0},
		{"not an object", `[1,2]`, -1},
		{"garbage", "GET / HTTP/1.1\r\n", -1},
		{"OK", "OK", -1},
		{"mismatched", `{"a":[}`, -1},
		{"mismatched 2", `{"a":{]}`, -1},
	} {
		if got := FrameEnd([]byte(tc.in)); got != tc.want {
			t.Errorf("%s: FrameEnd(%q) = %d, want %d", tc.name, tc.in, got, tc.want)
		}
	}
}

// A GBK character whose second byte is '\\', '{' or '}' neither escapes nor
// opens nor closes anything.
func TestFrameEndGBKTrailBytes(t *testing.T) {
	// 誠 = D5 5C, 輠 = DD 7B, 莭 = C7 7D.
	for _, s := range []string{`{"a":"誠"}`, `{"a":"輠"}`, `{"a":"莭"}`, `{"a":"誠乗盶"}`} {
		b := gbk(t, s)
		if got := FrameEnd(b); got != len(b) {
			t.Errorf("FrameEnd(% x) = %d, want %d", b, got, len(b))
		}
		// Without GBK awareness 誠" would read as an escaped quote and the
		// frame would never end.
		for cut := 1; cut < len(b); cut++ {
			if got := FrameEnd(b[:cut]); got != 0 {
				t.Errorf("FrameEnd(% x) = %d on a prefix, want 0", b[:cut], got)
			}
		}
	}
}

func TestFrameEndSplitEverywhere(t *testing.T) {
	frame := gbk(t, specResult)
	for cut := 0; cut < len(frame); cut++ {
		if got := FrameEnd(frame[:cut]); got != 0 {
			t.Fatalf("prefix %d: FrameEnd = %d, want 0", cut, got)
		}
	}
	if got := FrameEnd(frame); got != len(frame) {
		t.Fatalf("FrameEnd = %d, want %d", got, len(frame))
	}
}

func TestFrameEndLimits(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", MaxFrame) + `"}`
	if got := FrameEnd([]byte(big)); got != -1 {
		t.Errorf("oversized frame: %d, want -1", got)
	}
	if got := FrameEnd([]byte(big[:MaxFrame-1])); got != 0 {
		t.Errorf("incomplete below MaxFrame: %d, want 0", got)
	}
	if got := FrameEnd([]byte(big[:MaxFrame])); got != -1 {
		t.Errorf("incomplete at MaxFrame: %d, want -1", got)
	}
	fits := `{"a":"` + strings.Repeat("x", MaxFrame-8) + `"}`
	if got := FrameEnd([]byte(fits)); got != MaxFrame {
		t.Errorf("frame of exactly MaxFrame: %d, want %d", got, MaxFrame)
	}
	deep := strings.Repeat("[", 70)
	if got := FrameEnd([]byte("{\"a\":" + deep)); got != -1 {
		t.Errorf("too deep: %d, want -1", got)
	}
	if got := FrameEnd(bytes.Repeat([]byte(" "), MaxFrame+1)); got != -1 {
		t.Errorf("endless whitespace: %d, want -1", got)
	}
}

func FuzzFrameEnd(f *testing.F) {
	f.Add([]byte(specOrder))
	f.Add(gbk(f, specResult))
	f.Add(gbk(f, specAck)[:20])
	f.Add([]byte(`{"a":"\"}`))
	f.Add([]byte{'{', '"', 0xd5, 0x5c, '"', '}'})
	f.Add([]byte{'{', '"', 0xd5})
	f.Add([]byte(`{"a":[{"b":{}}]}trailing`))
	f.Add([]byte("  OK"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := FrameEnd(b)
		if n < -1 || n > len(b) || n > MaxFrame {
			t.Fatalf("FrameEnd = %d for %d bytes", n, len(b))
		}
		if n > 0 {
			if b[n-1] != '}' {
				t.Fatalf("frame does not end with '}': % x", b[:n])
			}
			if FrameEnd(b[:n]) != n {
				t.Fatalf("frame is not stable under truncation to itself")
			}
			for cut := 0; cut < n; cut++ {
				if got := FrameEnd(b[:cut]); got != 0 {
					t.Fatalf("prefix %d of a %d-byte frame: FrameEnd = %d", cut, n, got)
				}
			}
		}
	})
}

func FuzzDecodeResult(f *testing.F) {
	f.Add(gbk(f, specResult))
	f.Add([]byte(specResult))
	f.Add([]byte(`{"chargeId":"1","retCode":"3","retCash":"1.005","retCost":-0.1}`))
	f.Add([]byte(`{"chargeId":1,"retCode":1,"retBalance":999999999999999.999}`))
	f.Add([]byte{'{', '"', 'r', 'e', 't', 'D', 'e', 't', 'a', 'i', 'l', '"', ':', '"', 0xd5, 0x5c, '"', '}'})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeResult(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes (unless it holds text GBK cannot
		// carry) and decodes to the same result.
		frame, err := EncodeResult(r, "k")
		if err != nil {
			return
		}
		r2, err := DecodeResult(frame)
		if err != nil {
			t.Fatalf("re-decode: %v\nframe %q", err, frame)
		}
		r.Sign = r.ComputeSign("k")
		if r2 != r {
			t.Fatalf("round trip: %+v != %+v", r2, r)
		}
		_, _ = ClassifyResult(r, 100)
	})
}

func BenchmarkFrameEnd(b *testing.B) {
	frame := gbk(b, specOrder)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if FrameEnd(frame) != len(frame) {
			b.Fatal("bad frame")
		}
	}
}
