package juhe

import "topup/engine"

// Wire values of error_code (specs/002 section 4).
const (
	// CodeOK (0): the request succeeded.
	CodeOK = 0

	// CodeBadPhone (210501): wrong phone number.
	CodeBadPhone = 210501
	// CodeBadFaceValue (210502): wrong face value.
	CodeBadFaceValue = 210502
	// CodeNoProduct (210503): no flow product matches this phone number.
	CodeNoProduct = 210503
	// CodeProductMismatch (210504): the product id does not fit this phone number.
	CodeProductMismatch = 210504
	// CodeNoBalance (210505): our balance at Juhe is too low.
	CodeNoBalance = 210505
	// CodeBadSign (210506): wrong sign.
	CodeBadSign = 210506
	// CodeChannelDown (210507): the channel is temporarily unavailable.
	CodeChannelDown = 210507
	// CodeDuplicateOrder (210508): duplicate order number; the order may
	// exist and must be checked.
	CodeDuplicateOrder = 210508
	// CodeOrderNotCreated (210509): the order could not be created.
	CodeOrderNotCreated = 210509
	// CodeRechargeRefused (210510): the recharge was not accepted.
	CodeRechargeRefused = 210510
	// CodeNoSuchOrder (210511): wrong order number, or no such order.
	CodeNoSuchOrder = 210511

	// CodeBadKey (10001): wrong request key. 10001–10013 are the system-level
	// request errors (key, OpenID, IP, rate limits).
	CodeBadKey = 10001
	// CodeRateLimited (10012): too many requests.
	CodeRateLimited = 10012
	// CodeSystemError (10014): Juhe's internal error; the order must be
	// checked.
	CodeSystemError = 10014
	// CodeMaintenance (10020): the interface is under maintenance.
	CodeMaintenance = 10020
	// CodeDisabled (10021): the interface is disabled.
	CodeDisabled = 10021

	// CodeTransport (-1) is the Code of a Result that has no error_code: a
	// network error, a time-out, an HTTP error status or an unparseable
	// body.
	CodeTransport = -1
)

// Values of game_state (query) and sta (callback).
const (
	stateRecharging = "0"
	stateSuccess    = "1"
	stateFailed     = "9"
)

// ClassifyCode maps an error_code to an outcome. query selects the status
// query's reading, where only error_code 0 says anything about the order
// (the caller then reads game_state) and every other code is
// OutcomeUncertain. On submit: 0 accepted; 210501 target failure; 210502–
// 210507, 210509–210511, 10001–10013, 10020 and 10021 route failures (the
// order was not created); 10014, 210508 and every unknown code uncertain.
func ClassifyCode(code int, query bool) engine.Outcome {
	if code == CodeOK {
		return engine.OutcomeAccepted
	}
	if query {
		return engine.OutcomeUncertain
	}
	switch {
	case code == CodeBadPhone:
		return engine.OutcomeFailTarget
	case code >= CodeBadFaceValue && code <= CodeNoSuchOrder && code != CodeDuplicateOrder:
		return engine.OutcomeFailRoute
	case code >= CodeBadKey && code < CodeSystemError:
		return engine.OutcomeFailRoute
	case code == CodeMaintenance, code == CodeDisabled:
		return engine.OutcomeFailRoute
	}
	return engine.OutcomeUncertain
}

// codeText is the specification's description of a code, for details when
// the reply carries no reason.
func codeText(code int) string {
	switch code {
	case CodeOK:
		return "成功"
	case CodeBadPhone:
		return "错误的手机号码"
	case CodeBadFaceValue:
		return "错误的面值"
	case CodeNoProduct:
		return "检索不到符合该手机号码的流量套餐"
	case CodeProductMismatch:
		return "套餐ID不符合当前手机号"
	case CodeNoBalance:
		return "余额不足"
	case CodeBadSign:
		return "校验值sign错误"
	case CodeChannelDown:
		return "渠道暂时不可用"
	case CodeDuplicateOrder:
		return "重复的订单号"
	case CodeOrderNotCreated:
		return "订单生成失败"
	case CodeRechargeRefused:
		return "受理充值失败"
	case CodeNoSuchOrder:
		return "订单号错误/不存在"
	case 10001:
		return "错误的请求KEY"
	case 10002:
		return "该KEY无请求权限"
	case 10003:
		return "KEY过期"
	case 10004:
		return "错误的OPENID"
	case 10005:
		return "应用未审核超时，请提交认证"
	case 10007:
		return "未知的请求源"
	case 10008:
		return "被禁止的IP"
	case 10009:
		return "被禁止的KEY"
	case 10011:
		return "当前IP请求超过限制"
	case 10012:
		return "请求超过次数限制"
	case 10013:
		return "测试KEY超过请求限制"
	case CodeSystemError:
		return "系统内部异常"
	case CodeMaintenance:
		return "接口维护"
	case CodeDisabled:
		return "接口停用"
	}
	return ""
}
