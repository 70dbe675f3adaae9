"""Reference data every installation needs: the reason codes and their seller-facing texts.

``init-db`` inserts the codes that are missing and never overwrites one an operator has edited.
"""
from portal.refunds.models import ReasonCode
from portal.tickets.models import CannedReply

# (code, kind, label zh, label en, message zh, message en)
REASON_CODES = (
    ("PENDING_COMPLAINT", "REJECT", "存在未结案的投诉", "An unresolved complaint",
     "您的店铺有一笔投诉尚未结案。结案后即可重新申请退还。",
     "Your shop has a complaint that is not closed yet. Apply again once it is closed."),
    ("AMOUNT_INCORRECT", "REJECT", "申请金额有误", "The amount is not right",
     "申请金额与可退金额不一致，请核对后重新申请。",
     "The amount does not match what is refundable. Check it and apply again."),
    ("PAYEE_MISMATCH", "REJECT", "收款信息与主体不一致", "Payee does not match the shop entity",
     "收款账户户名须与店铺主体一致。请修改收款信息后重新申请。",
     "The payee account must be held by the shop's registered entity. Correct it and apply again."),
    ("MATERIALS_MISSING", "REJECT", "材料不全", "Materials missing",
     "申请所需材料不全，请补齐后重新申请。",
     "Some required materials are missing. Add them and apply again."),
    ("ACCOUNT_BANNED", "REJECT", "店铺已封禁，保证金不予退还", "Shop banned: deposit forfeited",
     "您的店铺已被封禁，依据平台规则保证金不予退还。如有异议，请提交申诉工单。",
     "Your shop is banned, and under the platform rules its deposit is forfeited. "
     "If you disagree, open an appeal ticket."),
    ("RISK_REVIEW", "HOLD", "风险复核", "Risk review",
     "您的账户正在进行安全复核，复核完成后将继续处理。",
     "Your account is under a security review; processing continues when it is done."),
    ("NEW_DISPUTE", "HOLD", "出现新的交易纠纷", "A new buyer dispute",
     "您的店铺出现新的交易纠纷，纠纷解决后将继续处理。",
     "A new buyer dispute was opened; processing continues once it is resolved."),
    ("PRECHECK_FAILED", "HOLD", "前置检查未通过", "A pre-check no longer passes",
     "公示期结束时前置检查未通过，请按提示处理后等待客服继续审核。",
     "When the waiting period ended a pre-check no longer passed. Fix what it names; support "
     "continues the review then."),
    ("PROOF_OF_PAYMENT", "NEEDS_INFO", "需要缴纳凭证", "Proof of payment needed",
     "请上传最近一笔保证金缴纳凭证。", "Please upload the proof of your latest deposit payment."),
    ("IDENTITY_CHECK", "NEEDS_INFO", "需要身份核验", "Identity check needed",
     "请补充法定代表人身份证明材料。", "Please add proof of identity of the legal representative."),
    ("NO_ANSWER", "SYSTEM", "未在期限内补充材料", "No answer in time",
     "由于未在期限内补充材料，本次申请已过期，占用的保证金已释放。您可以重新申请。",
     "The information was not sent in time, so the request expired and the held amount was released. "
     "You can apply again."),
    ("ACCOUNT_CLOSED", "PAYOUT_FAILURE", "收款账户已注销", "Payee account closed",
     "收款账户已注销，请更新收款信息，我们将重新打款。",
     "The payee account is closed. Update your payee details and we will pay again."),
    ("HOLDER_NAME_MISMATCH", "PAYOUT_FAILURE", "户名不符", "Holder name mismatch",
     "银行退回：户名与账户不符。请核对收款信息中的户名。",
     "Returned by the bank: the holder name does not match the account. Check the holder name."),
    ("INVALID_ACCOUNT", "PAYOUT_FAILURE", "账号无效", "Invalid account number",
     "银行退回：账号无效。请核对收款账号。",
     "Returned by the bank: the account number is invalid. Check the account number."),
    ("PAYOUT_OTHER", "PAYOUT_FAILURE", "其他打款失败", "Other payout failure",
     "打款未成功，财务将与您联系或重新打款。",
     "The payout did not go through. Finance will contact you or pay again."),
)


# (code, title zh, title en, body zh, body en)
CANNED_REPLIES = (
    ("RECEIVED", "已收到，处理中", "Received, working on it",
     "您好，我们已收到您的工单，正在核实，预计 2 个工作日内给您答复。",
     "Hello, we have your ticket and are checking it; expect an answer within 2 working days."),
    ("NEED_PROOF", "请补充凭证", "Please add proof",
     "您好，请上传相关凭证（如付款截图、银行回单），以便我们核实。",
     "Hello, please upload the proof (a payment screenshot or bank slip) so we can check it."),
    ("AMOUNT_EXPLAINED", "金额说明", "The amount explained",
     "您好，可退金额 = 余额 − 冻结 − 退款占用 − 类目保证金要求。工单中附有逐项计算，请核对。",
     "Hello, refundable = balance − frozen − held − required by your categories. The itemised "
     "calculation is attached to this ticket."),
    ("NO_LINKS", "安全提醒", "Safety reminder",
     "温馨提示：平台客服不会通过链接向您索要密码、验证码或要求转账。",
     "A reminder: support never asks for passwords, codes or payments through links."),
)


def reference_data():
    """Insert every reason code and canned reply that is missing; returns how many were added."""
    existing = {code for (code,) in ReasonCode.select(ReasonCode.code).tuples()}
    added = 0
    for order, (code, kind, label_zh, label_en, message_zh, message_en) in enumerate(REASON_CODES):
        if code in existing:
            continue
        ReasonCode.create(code=code, kind=kind, label_zh=label_zh, label_en=label_en,
                          message_zh=message_zh, message_en=message_en, sort_order=order * 10)
        added += 1
    existing = {code for (code,) in CannedReply.select(CannedReply.code).tuples()}
    for code, title_zh, title_en, body_zh, body_en in CANNED_REPLIES:
        if code not in existing:
            CannedReply.create(code=code, title_zh=title_zh, title_en=title_en, body_zh=body_zh, body_en=body_en)
            added += 1
    return added
