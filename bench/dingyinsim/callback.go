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
	d := &delivery{rec: o.rec, url: o.backURL, body: append([]byte(nil), args.QueryString()...)}
	if s.cfg.DuplicateCallbacks {
		d.dups = 1
	}
	return d
}

// admit counts a callback as pending, or drops it when MaxPending is reached.
func (s *Sim) admit() bool {
	if s.pending.Add(1) > int64(s.cfg.MaxPending) {
		s.pending.Add(-1)
		s.dropped.Add(1)
		return false
	}
	return true
}

// after hands d to a sender once delay has passed.
func (s *Sim) after(delay time.Duration, d *delivery) {
	time.AfterFunc(max(delay, 0), func() {
		select {
		case s.jobs <- d:
		case <-s.done:
			s.pending.Add(-1)
		}
	})
}

func (s *Sim) sender() {
	defer s.wg.Done()
	for {
		select {
		case <-s.done:
			return
		case d := <-s.jobs:
			s.deliver(d)
		}
	}
}

// deliver makes one attempt at d and schedules what comes next: a resend,
// a duplicate, or nothing.
func (s *Sim) deliver(d *delivery) {
	s.sent.Add(1)
	if err := s.push(d.url, d.body); err != nil {
		s.failed.Add(1)
		s.log.Debug("dingyinsim: callback", "url", d.url, "err", err)
		if d.attempt < s.cfg.CallbackRetries {
			d.attempt++
			s.after(s.cfg.CallbackRetryInterval, d)
			return
		}
		s.abandoned.Add(1)
		s.pending.Add(-1)
		return
	}
	s.ok.Add(1)
	s.mu.Lock()
	s.records[d.rec].CallbackDelivered = true
	s.mu.Unlock()
	if d.dups > 0 {
		d.dups--
		d.attempt = 0
		s.after(dupCallbackGap, d)
		return
	}
	s.pending.Add(-1)
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
