// Package dingyin is the engine's client of a "Dingyin" supplier (specs/001,
// an OFPay-style `*.do` API): it submits recharge orders, queries their
// status and balance, and parses the supplier's result callbacks. The engine
// is the CLIENT of this protocol; Client is safe for concurrent use and does
// no retrying of its own beyond what is said below.
//
// # Requests
//
// Every call is an HTTP POST of an application/x-www-form-urlencoded body to
// Config.BaseURL plus the path. Values are encoded to GBK first and then
// URL-encoded ("张三" → %D5%C5%C8%FD). No redirect is followed (a 3xx is an
// answer like any other non-2xx), answers larger than MaxResponseBody are
// refused, and each call is bounded by Config.Timeout and the context's
// deadline (cancellation without a deadline is seen only before sending).
//
//	path                  fields, in the order sent
//	/gameonlinepay.do     userid productid num areaid serverid account userip
//	                      spordertime sporderid sign [back_url]
//	/searchpay.do         userid sporderid sign
//	/searchbalance.do     userid sign
//
// spordertime is yyyyMMddHHmmss in China Standard Time (UTC+8). areaid,
// serverid and userip are sent empty; back_url only when Config.BackURL is
// set (callbacks on). Status and balance queries are retried once on a
// connection error (they change nothing); a submission never is.
//
// # Signatures
//
// Upper-case hex MD5 over the GBK bytes of the text below, with empty values
// as empty strings. userip and back_url are not signed. Received signs are
// compared in constant time, ignoring hex case.
//
//	submit    userid=…&productid=…&num=…&areaid=…&serverid=…&account=…&spordertime=…&sporderid=…&key=…
//	query     userid=…&sporderid=…&key=…
//	balance   userid=…&key=…
//	callback  userid=…&orderid=…&sporderid=…&merchantsubmittime=…&resultno=…&key=…
//
// # Replies
//
// Replies are XML declared GB2312 (GBK, GB18030 and UTF-8 are accepted too;
// an undeclared body that is not UTF-8 is read as GBK). The specification's
// sample carries a stray "- " before the root element, which is tolerated:
//
//	<?xml version="1.0" encoding="GB2312" ?> - <order> <orderid>XS090428000003</orderid>
//	<productid>3312</productid> <num>1</num> <ordercash>98.5</ordercash>
//	<productname>游戏直充</productname> <sporderid>2009042800001</sporderid>
//	<account>13590101510</account> <resultno>0</resultno> </order>
//
// The root element's name is not checked. The first occurrence of each known
// leaf element is used and surrounding white space is trimmed. A submit or
// query reply without resultno, or naming another sporderid, is unparseable.
// Amounts (ordercash, fundbalance, balance) are decimal yuan, converted to fen
// exactly and rounded half up (away from zero) below the fen; never through a
// float.
//
// # Assumptions
//
// The document specifies the submit call only. Following specs/README, the
// adapter assumes what suppliers of this API family commonly do:
//
//	resultno     meaning                        submit          query / callback
//	0            waiting                        Accepted        Accepted
//	2            in progress                    Accepted        Accepted
//	1            success                        Success         Success
//	9            failed and refunded            FailRoute       FailRoute
//	5002         supplier balance too low       FailRoute (*)   Uncertain
//	5006         duplicate sporderid            Uncertain       Uncertain
//	5007         no such order                  FailRoute       Accepted ("not found yet")
//	5001–5012    other request errors           FailRoute       Uncertain
//	9999         result unknown                 Uncertain       Uncertain
//	anything else, network error, time-out, non-2xx HTTP, unparseable reply:  Uncertain
//
// (*) with Result.Detail starting "resultno 5002: supplier balance too low"
// (see IsLowBalance), so that the channel can be paused until topped up.
//
// A request error on submission means the order was not created, so another
// route may take it. A request error on a status query (a bad sign after a
// key change, say) says nothing about the order, which may well have
// succeeded: it is Uncertain, never a failure, so that an order that may
// still succeed is never re-routed. Callbacks are classified like query
// replies. No code maps to engine.OutcomeFailTarget: the protocol does not
// say whether a failure was the recharge target's fault.
//
// Status queries use searchpay.do with the same XML reply. A 5007 right after
// submission means the supplier has not registered the order yet, so a query
// answering 5007 is Accepted and the caller keeps querying; its own window
// decides when to stop. The adapter is complete with callbacks switched off
// (Config.BackURL empty): query-driven.
//
// searchbalance.do is assumed to answer XML with a <balance> element holding
// the balance in yuan, e.g. <user><userid>…</userid><balance>1024.50</balance></user>.
// A resultno other than 0 or 1 in that reply is a rejection.
//
// Callbacks are form POSTs to back_url with userid, orderid, sporderid,
// merchantsubmittime, resultno and optionally parvalue, remark1, payno and
// fundbalance; the receiver answers CallbackReply ("OK"). Values may be GBK:
// a charset parameter of the Content-Type decides, and without one a body
// whose values are not valid UTF-8 is read as GBK.
package dingyin
