"""One JSON error shape for every error: ``{"error": {"code": "...", "message": "..."}}``.

Codes are stable (the PWA branches on them); messages follow the request's ``Accept-Language``:
Chinese unless the caller prefers English.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

log = logging.getLogger("xunjian")

MESSAGES: dict[str, tuple[str, str]] = {
    "invalid_request": ("请求内容有误", "The request is not valid"),
    "not_authenticated": ("请先登录", "Please log in"),
    "session_expired": ("登录已过期，请重新登录", "Your login has expired, please log in again"),
    "invalid_credentials": ("用户名或密码错误", "Wrong username or password"),
    "account_disabled": ("账号已停用，请联系管理员", "This account is disabled"),
    "too_many_attempts": ("尝试次数过多，请稍后再试", "Too many attempts, please try again later"),
    "forbidden": ("没有权限执行此操作", "You are not allowed to do this"),
    "not_found": ("找不到该内容", "Not found"),
    "export_range_too_long": (
        "导出的日期范围最多 366 天",
        "An export covers at most 366 days",
    ),
    "method_not_allowed": ("不支持该操作", "Method not allowed"),
    "payload_too_large": ("内容过大", "The request is too large"),
    "unsupported_media_type": ("不支持的文件类型", "Unsupported file type"),
    "conflict": ("与已有数据冲突", "Conflicts with existing data"),
    "import_invalid": (
        "导入文件有错误，未导入任何数据",
        "The file has errors; nothing was imported",
    ),
    "username_taken": ("用户名已存在", "That username is taken"),
    "weak_password": ("密码至少 8 位", "The password must have at least 8 characters"),
    "unknown_checkpoint": (
        "找不到该巡检点，请确认二维码或编号",
        "No such checkpoint; check the QR code or the code",
    ),
    "label_revoked": (
        "此标签已作废（已补发新标签），请扫描新标签",
        "This label was replaced by a new one; scan the new label",
    ),
    "bad_signature": (
        "标签校验失败，可能是伪造或被篡改的二维码",
        "The label failed verification; it may be forged or altered",
    ),
    "not_our_label": ("这不是本系统的巡检点二维码", "This is not one of our checkpoint labels"),
    "ambiguous_checkpoint": (
        "多个项目都有此编号，请先选择项目",
        "Several sites have this code; choose the site first",
    ),
    "no_labels": ("所选范围内没有巡检点，未生成标签", "No checkpoints match; no labels made"),
    "too_many_labels": (
        "一次最多打印 3000 张标签，请按楼栋或楼层分批，或使用命令行",
        "At most 3000 labels per request; split by building or floor, or use the command line",
    ),
    # Photos (PUT /api/photos/{sha256})
    "photo_hash_mismatch": (
        "照片校验失败（内容与编号不符），请重新上传",
        "The photo does not match its hash; upload it again",
    ),
    "photo_too_large": ("照片文件过大", "The photo file is too large"),
    "photo_too_many_pixels": ("照片像素过大", "The photo has too many pixels"),
    "photo_not_image": ("只能上传 JPEG、PNG 或 WebP 图片", "Only JPEG, PNG or WebP images"),
    "photo_corrupt": ("照片文件已损坏或不完整", "The photo file is damaged or incomplete"),
    # Sync (POST /api/sync) — batch-level and per-record codes
    "batch_too_large": ("一次最多同步 500 条记录", "At most 500 records per sync"),
    "missing_photo": ("照片尚未上传，稍后自动重试", "A photo has not been uploaded yet"),
    "unknown_item": ("检查项与巡检表不符", "An item does not belong to this checklist"),
    "unknown_defect_type": (
        "缺陷类型与巡检表不符",
        "The defect type is not one of this checklist's",
    ),
    "incomplete_check": (
        "检查未完成：所有检查项和确认项都必须填写",
        "The check is incomplete: every item and confirmation is required",
    ),
    "photo_required": ("不合格项必须拍照", "A failed item needs a photo"),
    "bad_device_time": (
        "记录时间无效（需要带时区的时间）",
        "The record's time is not valid (it needs a time zone offset)",
    ),
    "no_template": ("该巡检点没有可用的巡检表", "This checkpoint has no checklist for you"),
    # Work orders (POST /api/work-orders/{id}/<action>)
    "illegal_transition": (
        "工单当前状态不能执行此操作，请刷新后再试",
        "This step is not possible in the order's current state; refresh and try again",
    ),
    "unknown_action": ("不支持的工单操作", "Unknown work-order action"),
    "reason_required": ("请填写原因", "Please give the reason"),
    "department_required": ("请选择派往的部门", "Choose the department to send it to"),
    "unknown_department": ("找不到该部门", "No such department"),
    "owner_sign_off_missing": (
        "业主尚未签字（或未记录业主不在家），不能关闭",
        "The owner has not signed (nor is 'owner not at home' recorded); it cannot be closed",
    ),
    "follow_up_missing": (
        "尚未记录回访，不能关闭",
        "The follow-up call is not recorded yet; it cannot be closed",
    ),
    "order_changed": (
        "工单刚被他人更新，请刷新后再试",
        "Someone else just changed this order; refresh and try again",
    ),
    "client_id_conflict": (
        "该请求编号已用于另一项操作，已拒绝",
        "This request id was already used for a different request",
    ),
    "owner_details_required": (
        "请填写业主姓名和房号",
        "Enter the owner's name and unit",
    ),
    "signature_or_absent_required": (
        "请让业主签字，或选择“业主不在家”（二选一）",
        "Capture the owner's signature or record 'owner not at home' (one of the two)",
    ),
    "satisfaction_required": (
        "请选择业主满意度",
        "Choose the owner's satisfaction",
    ),
    # Patrol plans and compliance
    "invalid_plan": ("巡检计划设置有误", "The patrol plan is not valid"),
    "plan_no_checkpoints": (
        "所选范围内没有巡检点，请重新选择",
        "The plan's selection holds no checkpoints",
    ),
    "invalid_range": (
        "日期范围无效（开始不能晚于结束，最多 400 天）",
        "The date range is not valid (from must not be after to; at most 400 days)",
    ),
    "not_missed": (
        "该巡检任务不是漏检状态（可能已补录同步），无需确认",
        "This round is not missed (a late sync may have completed it)",
    ),
    "already_acknowledged": ("该漏检已确认过", "This missed round is already acknowledged"),
    "comment_required": ("请填写说明", "Please add a comment"),
    # Violations (POST /api/violations/...)
    "violation_not_open": (
        "该违章已整改或已撤销，请刷新后再试",
        "This violation is already rectified or cancelled; refresh and try again",
    ),
    # Renovations (POST /api/renovations/...)
    "renovation_illegal_step": (
        "装修许可当前状态不能执行此操作，请刷新后再试",
        "This step is not possible in the renovation permit's current state; refresh and try again",
    ),
    "renovation_changed": (
        "装修许可刚被他人更新，请刷新后再试",
        "Someone else just changed this renovation permit; refresh and try again",
    ),
    "renovation_exists": (
        "该房号已有未结束的装修申请",
        "This unit already has a renovation permit that is not closed",
    ),
    "drawings_not_approved": (
        "装修图纸尚未经工程部审核通过",
        "The drawings are not approved by engineering yet",
    ),
    "signatures_missing": (
        "施工许可证还需客服、工程、保安三个部门签字",
        "The permit still needs the signatures of customer service, engineering and security",
    ),
    "already_signed": ("该部门已签字", "This department has already signed"),
    "fire_approval_required": (
        "装修面积超过 200 平方米，须先取得消防部门审批",
        "Over 200 m²: the fire authority's approval is required first",
    ),
    "fire_reference_required": ("请填写消防审批文号", "Enter the fire authority's reference"),
    "extension_illegal_step": (
        "延期申请当前状态不能执行此操作",
        "This step is not possible in the extension request's current state",
    ),
    "extension_pending": (
        "已有待审批的延期申请",
        "An extension request is already waiting for review or approval",
    ),
    "outside_permit_period": (
        "动火日期超出装修许可期限",
        "The hot-work dates are outside the permit's period",
    ),
    # Renovation acceptance, deductions, settlement (server/renovation_acceptance.py)
    "acceptance_not_passed": (
        "联合验收尚未全部通过，不能执行此步骤",
        "The joint acceptance has not passed yet; this step is not possible",
    ),
    "settlement_not_approved": (
        "押金结算单尚未经经理审批",
        "The deposit settlement statement is not approved by the manager yet",
    ),
    "acceptance_open": (
        "该验收已有进行中的一轮，请先完成",
        "A round of this acceptance is already open; finish it first",
    ),
    "acceptance_closed": (
        "本轮验收已结束，请刷新后再试",
        "This acceptance round is closed; refresh and try again",
    ),
    "already_signed_off": (
        "该方已在本轮验收中签署",
        "This party has already signed off this round",
    ),
    "signature_required": (
        "业主或施工方须在手机上签字并填写姓名",
        "The owner or contractor must sign on the phone and give their name",
    ),
    "items_required": (
        "不通过时请填写需要整改的项目",
        "List what is to be rectified when the sign-off fails",
    ),
    "settlement_approved": (
        "押金结算单已审批，不能再修改扣款",
        "The settlement is approved; deductions can no longer change",
    ),
    "database_unavailable": ("数据库不可用", "The database is not available"),
    "internal_error": ("服务器内部错误，请稍后再试", "Internal server error, please try again"),
}

STATUS_CODES: dict[int, str] = {
    400: "invalid_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_attempts",
}


def prefers_english(accept_language: str | None) -> bool:
    """True when the caller's first language choice is English; Chinese is the default."""
    if not accept_language:
        return False
    first = accept_language.split(",")[0].split(";")[0].strip().lower()
    return first.startswith("en")


def message_for(code: str, english: bool) -> str:
    zh, en = MESSAGES.get(code, MESSAGES["internal_error"])
    return en if english else zh


class ApiError(HTTPException):
    """An error with a stable code. ``detail`` is machine-readable context (e.g. row errors)."""

    def __init__(self, status_code: int, code: str, detail: Any = None, headers=None) -> None:
        super().__init__(status_code=status_code, detail=code, headers=headers)
        self.code = code
        self.extra_detail = detail


def error_body(code: str, english: bool, detail: Any = None) -> dict:
    error: dict[str, Any] = {"code": code, "message": message_for(code, english)}
    if detail is not None:
        error["detail"] = detail
    return {"error": error}


def handle_http_exception(request: Request, exc: HTTPException) -> Response:
    english = prefers_english(request.headers.get("accept-language"))
    status = exc.status_code
    if isinstance(exc, ApiError):
        code, detail = exc.code, exc.extra_detail
    else:
        code = STATUS_CODES.get(status, "internal_error" if status >= 500 else "invalid_request")
        detail = None
        if isinstance(exc, ValidationException) and exc.extra:
            # msgspec's own words say which field is wrong; keep them for the developer.
            detail = exc.extra
        elif status == 400 and exc.detail and exc.detail != "Bad Request":
            detail = [{"message": str(exc.detail)}]
    if status >= 500:
        log.error("HTTP %s on %s %s: %s", status, request.method, request.url.path, exc.detail)
    return Response(error_body(code, english, detail), status_code=status, headers=exc.headers)


def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    english = prefers_english(request.headers.get("accept-language"))
    return Response(error_body("internal_error", english), status_code=500)


EXCEPTION_HANDLERS = {HTTPException: handle_http_exception, Exception: handle_unexpected}
