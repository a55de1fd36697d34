// Package juhe is the engine's client of the Juhe flow-recharge API
// (specs/002): it submits orders, queries their status and checks the
// status callbacks Juhe sends back.
//
// # Wire format
//
// Requests are form POSTs (application/x-www-form-urlencoded) and replies
// are JSON objects. Callbacks are GET requests with a query string.
//
//	submit   POST {BaseURL}/flow/onlineorder
//	         phone, pid, orderid, key, sign, cburl (only when configured)
//	         sign = md5(OpenID + key + phone + pid + orderid), lower-case hex
//	reply    {"reason":"订单提交成功，等待充值","error_code":0,
//	          "result":{"pid":"105000","uordercash":"19.630","cardname":"…",
//	                    "sporder_id":"F22070512362939019255270",
//	                    "orderid":"20220705043629","phone":"15925601712"}}
//
//	query    POST {BaseURL}/flow/ordersta
//	         orderid, key
//	reply    {"reason":"查询成功","error_code":0,
//	          "result":{"uordercash":"19.630","sporder_id":"F2207…","game_state":"0"}}
//	         game_state: 0 recharging, 1 success, 9 failed
//
//	callback GET {cburl}?sporder_id=…&orderid=…&sta=1&sign=…
//	         sta: 1 success, 9 failed
//	         sign = md5(key + sporder_id + orderid), lower-case hex
//	answer   "success" (Juhe resends up to 3 times while the answer is empty)
//
// The reply parser is lenient where suppliers of this family commonly vary:
// error_code and game_state may be JSON numbers or numeric strings, result
// may be null, "" or [] on errors, and unknown fields are ignored. A body
// that is not a JSON object with an integer error_code is unparseable.
//
// uordercash (what the order cost us) is parsed as decimal text into
// engine.Fen without a float, rounded half up at the third decimal
// ("19.635" is 1964 fen).
//
// # The adapter's assumptions
//
// Juhe's document warns: on a network error, a time-out or a system error,
// query the order and never treat it as failed. The adapter classifies every
// reply into an engine.Outcome accordingly (see ClassifyCode):
//
//   - error_code 0 on submit: OutcomeAccepted; the result follows by callback
//     or query.
//   - Uncertain (never refunded or re-routed): 10014 (system error), 210508
//     (duplicate order number: the order may exist and succeed), any network
//     error, a time-out, an HTTP 5xx, an HTTP 3xx (redirects are never
//     followed), a 4xx without a parseable body, an unparseable body, a body
//     larger than 64 KiB, a reply naming another orderid, and any code not in
//     the table below.
//   - OutcomeFailTarget: 210501 (bad phone number).
//   - OutcomeFailRoute, definite, the order was not created: 210502–210507,
//     210509, 210510, 210511 (on submit), 10001–10013, 10020, 10021.
//   - Query: only error_code 0 says anything about the order. game_state 0 is
//     OutcomeAccepted (no news), 1 OutcomeSuccess, 9 OutcomeFailRoute, any
//     other value OutcomeUncertain. Every non-zero error_code of a query is
//     OutcomeUncertain: the query failed, not the order. In particular 210511
//     (no such order) right after a submission we made cannot prove that the
//     order failed.
//   - Callback: sta 1 OutcomeSuccess, 9 OutcomeFailRoute, anything else
//     OutcomeUncertain. Only callbacks whose sign checks out are to be
//     believed; appkey in the sign is Config.Key.
//
// An order that never left the process (its orderid is not 8–32 letters and
// digits, or pid is empty) is OutcomeFailRoute with Code -1 on submit. A
// context that is already done before sending, or ends while the request is
// in flight, gives OutcomeUncertain like any other transport failure.
//
// Submissions are never retried by the HTTP client (a second POST of the
// same orderid would only earn 210508); queries are retried on connection
// errors since they change nothing.
package juhe
