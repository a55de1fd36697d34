// Package sockmod speaks the socket-module protocol (specs/003): the engine
// sends recharge orders to socket modules (suppliers) and accepts their
// result callbacks.
//
// # Wire format
//
// Every exchange is a short TCP connection carrying one JSON object each way,
// encoded in GBK. There is no length prefix: a frame ends where its top-level
// object closes (see FrameEnd). Frames longer than MaxFrame are rejected.
//
//	engine → module   order     {"action":"CZ","chargeId":196,"chargeAcct":"13530017201",
//	                             "chargeCash":100.000,"chargeType":0,"amount":1,
//	                             "faceValue":100.000,"var1":"","var2":"","var3":"","var4":"",
//	                             "productSn":0,"nbrArea":"广东省深圳-移动","cardSn":"",
//	                             "cardPassword":"","agentAcct":"","agentPass":"","cardId":0,
//	                             "retRsn":"0","sign":"8e6f…"}
//	module → engine   ack       {"action":"CZ","chargeId":196,"retCode":0,
//	                             "retDetail":"定单已接收","retRsn":"","sign":"6de2…"}
//	                  (connection closed)
//	module → engine   result    {"action":"CZ","chargeId":196,"retCode":1,"retDetail":"充值成功",
//	(port 50899)                 "retRsn":"","userContent":"","retCost":99.100,
//	                             "retBalance":58921.980,"retCash":100.000,"sign":"30b0…"}
//	engine → module   OK        (the two ASCII bytes; the module stops resending)
//
// Money is a JSON number in yuan with exactly three decimals. It is parsed as
// decimal text into engine.Fen, never through a float: an order's chargeCash
// and faceValue must be whole fen (a non-zero third decimal is an error); a
// result's retCost, retBalance and retCash are rounded half up to the fen.
//
// Signatures are lower-case hex MD5 over the GBK bytes of the concatenated
// field values followed by the key:
//
//	order:  md5(chargeId + chargeAcct + var1 + var2 + var3 + var4 + chargeCash + md5key)
//	ack:    md5(chargeId + retCode + retRsn + md5key)
//	result: md5(chargeId + retCode + retRsn + md5key)
//
// chargeCash is written with three decimals ("100.000") both on the wire and
// in the signature. Encoders keep the field order of the specification's
// samples. Integer fields are also accepted as JSON strings ("196") when
// decoding, since some modules quote them.
//
// # Codes
//
// retCode: 0 received/not yet processed, 1 success, 2 result uncertain,
// 3 failed. ClassifyAck and ClassifyResult map them to engine.Outcome.
package sockmod
