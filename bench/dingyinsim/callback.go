package dingyinsim

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/text/encoding/simplifiedchinese"

	"topup/engine"
	"topup/transports/dingyin"
)

// newDelivery builds the callback for o's final result, signed
// MD5("userid=…&orderid=…&sporderid=…&merchantsubmittime=…&resultno=…&key=…")
// upper-case over GBK bytes. Values are sent GBK without a charset
// parameter, as such suppliers do.
func (s *Sim) newDelivery(o *order) *delivery {
	s.mu.Lock()
	bal := s.balance
	s.mu.Unlock()
	remark := remarkFail
	if o.finalNo == dingyin.CodeSuccess {
		remark = remarkSuccess
	}
	gbk := func(v string) []byte {
		b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(v))
		if err != nil {
			return []byte(v)
		}
		return b
	}
	signed := [][2]string{
		{"userid", s.cfg.UserID}, {"orderid", o.orderID}, {"sporderid", o.sporderID},
		{"merchantsubmittime", o.spordertime}, {"resultno", o.finalNo},
	}
	args := fasthttp.AcquireArgs()
	defer fasthttp.ReleaseArgs(args)
	var text []byte
	for i, f := range signed {
		if i > 0 {
			text = append(text, '&')
		}
		v := gbk(f[1])
		text = append(append(append(text, f[0]...), '='), v...)
		args.AddBytesV(f[0], v)
	}
	text = append(append(text, "&key="...), s.key...)
	sum := md5.Sum(text)
	args.Add("parvalue", dingyin.FormatYuan(o.face*engine.Fen(o.num)))
	args.AddBytesV("remark1", gbk(remark))
	args.Add("payno", "")
	args.Add("fundbalance", dingyin.FormatYuan(bal))
	args.AddBytesV("sign", bytes.ToUpper([]byte(hex.EncodeToString(sum[:]))))
	d := &delivery{s: s, rec: o.rec, url: o.backURL, body: append([]byte(nil), args.QueryString()...)}
	if s.cfg.DuplicateCallbacks {
		d.dups = 1
	}
	return d
}

// Push makes one attempt at the callback.
func (d *delivery) Push() error {
	err := d.s.push(d.url, d.body)
	if err != nil {
		d.s.log.Debug("dingyinsim: callback", "url", d.url, "err", err)
	}
	return err
}

// Next marks the record delivered and, after an OK, moves on to a duplicate
// copy if one is due; a callback given up is done.
func (d *delivery) Next(delivered bool) (time.Duration, bool) {
	if !delivered {
		return 0, false
	}
	d.s.mu.Lock()
	d.s.records[d.rec].CallbackDelivered = true
	d.s.mu.Unlock()
	if d.dups > 0 {
		d.dups--
		return dupCallbackGap, true
	}
	return 0, false
}

// push posts one callback and requires a 2xx answer of "OK".
func (s *Sim) push(url string, body []byte) error {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/x-www-form-urlencoded")
	req.SetBody(body)
	if err := s.cb.DoTimeout(req, resp, s.cfg.CallbackTimeout); err != nil {
		return fmt.Errorf("dingyinsim: callback to %s: %w", url, err)
	}
	got := bytes.TrimSpace(resp.Body())
	if st := resp.StatusCode(); st < 200 || st > 299 || !bytes.EqualFold(got, []byte("OK")) {
		if len(got) > 64 {
			got = got[:64]
		}
		return fmt.Errorf("dingyinsim: callback to %s: answered HTTP %d %q", url, resp.StatusCode(), got)
	}
	return nil
}
