package sockmod

// MaxFrame is the largest frame, in bytes, either side accepts. Part of the
// wire contract: a peer that sends more is cut off.
const MaxFrame = 16 << 10

// maxDepth bounds the nesting of a frame; protocol packets are flat.
const maxDepth = 64

// FrameEnd reports the length of the first complete top-level JSON object in
// buf, including any leading whitespace: the number of bytes to consume for
// one frame. It returns 0 when buf holds only the beginning of an object (read
// more), and -1 when buf cannot start with a JSON object, its brackets do not
// match, it nests deeper than 64 levels, or the object does not end within
// MaxFrame bytes.
//
// The scan is GBK-aware: a byte in 0x81..0xFE starts a two-byte character
// whose second byte may be '\\', '{' or '}' and is skipped, so a Chinese
// character never ends a string or an object. Strings and backslash escapes
// are respected. FrameEnd does not otherwise validate the JSON.
func FrameEnd(buf []byte) int {
	i := 0
	for i < len(buf) && isSpace(buf[i]) {
		i++
	}
	if i == len(buf) {
		if i > MaxFrame {
			return -1
		}
		return 0
	}
	if buf[i] != '{' {
		return -1
	}
	limit := min(len(buf), MaxFrame)
	var (
		stack  uint64 // bit d set: level d is an object; clear: an array
		depth  int
		inStr  bool
		pendTr bool // a GBK lead byte was the last byte seen
	)
	for ; i < limit; i++ {
		b := buf[i]
		if pendTr {
			pendTr = false
			continue
		}
		if b >= 0x81 && b <= 0xfe {
			pendTr = true
			continue
		}
		if inStr {
			switch b {
			case '\\':
				pendTr = true // the escaped byte cannot end the string
			case '"':
				inStr = false
			}
			continue
		}
		switch b {
		case '"':
			inStr = true
		case '{', '[':
			if depth == maxDepth {
				return -1
			}
			if b == '{' {
				stack |= 1 << depth
			} else {
				stack &^= 1 << depth
			}
			depth++
		case '}', ']':
			if depth == 0 {
				return -1
			}
			depth--
			if isObj := stack&(1<<depth) != 0; isObj != (b == '}') {
				return -1
			}
			if depth == 0 {
				return i + 1
			}
		}
	}
	if len(buf) >= MaxFrame {
		return -1
	}
	return 0
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }
