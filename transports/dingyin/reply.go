package dingyin

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// ErrBadReply is wrapped when a supplier's answer cannot be understood: not
// XML, an unsupported charset, or a required element missing.
var ErrBadReply = errors.New("dingyin: bad reply")

// reply is the leaf elements of a reply the adapter reads, as trimmed UTF-8
// text; missing elements are "".
type reply struct {
	OrderID     string
	ProductID   string
	Num         string
	OrderCash   string
	ProductName string
	SporderID   string
	Account     string
	ResultNo    string
	FundBalance string
	Balance     string
}

// numLeaves is the number of elements the adapter reads.
const numLeaves = 10

// fields are the destinations of the texts of the elements leafIndex knows,
// in its order.
func (r *reply) fields() [numLeaves]*string {
	return [numLeaves]*string{&r.OrderID, &r.ProductID, &r.Num, &r.OrderCash, &r.ProductName,
		&r.SporderID, &r.Account, &r.ResultNo, &r.FundBalance, &r.Balance}
}

// leafIndex is the index in fields of the element name, or -1 for elements
// the adapter ignores.
func leafIndex(name string) int {
	switch name {
	case "orderid":
		return 0
	case "productid":
		return 1
	case "num":
		return 2
	case "ordercash":
		return 3
	case "productname":
		return 4
	case "sporderid":
		return 5
	case "account":
		return 6
	case "resultno":
		return 7
	case "fundbalance":
		return 8
	case "balance":
		return 9
	}
	return -1
}

// charsetReader turns a declared charset into UTF-8 for encoding/xml.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "gb2312", "gbk", "cp936", "x-gbk", "euc-cn", "gb_2312-80", "csgb2312", "windows-936":
		return simplifiedchinese.GBK.NewDecoder().Reader(in), nil
	case "gb18030":
		return simplifiedchinese.GB18030.NewDecoder().Reader(in), nil
	case "utf-8", "utf8", "us-ascii", "ascii":
		return in, nil
	}
	return nil, fmt.Errorf("%w: unsupported charset %q", ErrBadReply, label)
}

// declaresEncoding reports whether body starts with an XML declaration that
// names an encoding.
func declaresEncoding(body []byte) bool {
	body = bytes.TrimLeft(body, " \t\r\n")
	if !bytes.HasPrefix(body, []byte("<?xml")) {
		return false
	}
	end := bytes.Index(body, []byte("?>"))
	if end < 0 {
		return false
	}
	return bytes.Contains(body[:end], []byte("encoding"))
}

// parseReply reads a supplier's XML answer. It does not require any
// particular element; callers check what they need.
func parseReply(body []byte) (reply, error) {
	var r reply
	if !utf8.Valid(body) && !declaresEncoding(body) {
		// An undeclared body that is not UTF-8 is taken for GBK.
		dec, err := simplifiedchinese.GBK.NewDecoder().Bytes(body)
		if err != nil {
			return r, fmt.Errorf("%w: not GBK: %w", ErrBadReply, err)
		}
		body = dec
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	d.CharsetReader = charsetReader
	var (
		dst   = r.fields()
		depth int
		cur   = -1 // index of the known leaf element being read, if any
		seen  uint32
		text  []byte
	)
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return r, fmt.Errorf("%w: no complete root element", ErrBadReply)
			}
			return r, fmt.Errorf("%w: %w", ErrBadReply, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			cur = -1
			if depth > 1 {
				if i := leafIndex(t.Name.Local); i >= 0 && seen&(1<<i) == 0 {
					cur, text = i, text[:0]
				}
			}
		case xml.CharData:
			if cur >= 0 {
				text = append(text, t...)
			}
		case xml.EndElement:
			if cur >= 0 {
				*dst[cur] = strings.TrimSpace(string(text))
				seen |= 1 << cur
				cur = -1
			}
			depth--
			if depth == 0 {
				return r, nil
			}
		}
	}
}
