// Package operapi is the operator-facing HTTP API (spec 000): operators push
// orders to us, query their balance and their orders, and we call back their
// notify_url when an order ends. The engine is the server of this protocol.
//
// # Requests
//
// All three calls are POST with an application/x-www-form-urlencoded or an
// application/json body (no more than MaxBodySize bytes). In JSON, numbers
// may be sent as numbers or as strings, and string fields may be sent as
// numbers (uid 3928857). A body with no Content-Type is read as JSON when it
// starts with '{' and as a form otherwise.
//
//	path                      fields (all required)
//	/1/api/oper/order         uid order_no order_type mobile_type phone_number face_value notify_url sign
//	/1/api/oper/balance       uid sign
//	/1/api/oper/query_order   uid order_no sign
//
// Numbers are canonical decimal: digits only, no sign, no leading zero, so
// that the text signed by the operator and the value we sign agree.
//
// # Signatures
//
// Lower-case hex MD5 over the UTF-8 concatenation, with md5key the merchant's
// secret. Signs we receive are compared in constant time, case-insensitively.
//
//	order            md5(uid + order_no + phone_number + face_value + md5key)
//	balance          md5(uid + md5key)
//	query_order      md5(uid + order_no + md5key)
//	callback (ours)  md5(uid + order_no + phone_number + face_value + status + md5key)
//	signed reply     md5(<exact bytes of the "data" JSON object> + md5key)
//
// # Replies
//
// Replies are always JSON. Business answers are HTTP 200; engine codes whose
// HTTPStatus is 503 (unavailable, overloaded, not ready: nothing was changed,
// retry) are sent with HTTP 503 and the same body.
//
//	success             {"code":200,"count":1,"msg":"Success"}
//	failure             {"code":400,"count":0,"msg":"<message>","reason":"<engine.Code reason>"}
//	balance, query      {"code":200,"count":1,"msg":"success","sign":"<md5>","data":{...}}
//	body too large      HTTP 413, the bad_request failure body
//	unknown path        HTTP 404 {"code":404,"count":0,"msg":"no such path","reason":"not_found"}
//	method not POST     HTTP 405 {"code":405,"count":0,"msg":"use POST","reason":"method_not_allowed"}
//
// The reason strings are the stable names of engine.Code and are what
// operators and tests should match on.
//
// Checks run in this order: parse and validate the fields, look up the uid
// (unknown_uid, even when the sign is also wrong), verify the sign
// (bad_sign), then ask the Service.
//
// # Callbacks
//
// When an order ends we POST a form to its notify_url with uid, order_no,
// mobile_order_no, phone_number, face_value, status (4 success, 9 returned,
// 10 failed) and sign. The body is the same bytes on every attempt. The
// operator acknowledges by answering HTTP 2xx with the body "ok" (any case,
// surrounding white space ignored); anything else is a failed delivery that
// the caller retries.
package operapi
