// Renovation permits (装修许可) on the phone:
//   /app/renovations          the site's permits: status chips, days left, search by unit
//   /app/renovations/new      the desk registers an application (unit picked by building/floor)
//   /app/renovations/<id>     one permit: status stepper, parties, deposits, drawings / fire /
//                             signatures, workers (IDs masked), hot work, extensions, timeline; the
//                             person's next steps as big buttons and the add-worker / hot-work /
//                             extension forms.
// Every write goes through the outbox (store.js queueRequest, group "renovation:<id>"), so it
// is taken offline and sent exactly once, in order. What is still on the phone is shown on the
// permit, and the status the queued steps lead to is shown ahead (marked "to send").
// The list and the last MAX_CACHED permits opened or listed are kept in IndexedDB and open offline.

import { api, ApiError, NetworkError } from "../api.js";
import { h, toast } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import * as store from "../store.js";
import { onRequestSynced, queueAndSend } from "../sync.js";
import { daysBetween, idTail, siteClock, SOON_DAYS, timezoneOf } from "./renovation_glance.js";
import { departmentName } from "./work_orders.js";

const MAX_CACHED = 30;
export const STATUSES = ["applied", "drawings_review", "permit_issued", "in_progress", "hidden_works_accepted",
  "completed", "completion_accepted", "deposit_settled", "closed"];
const ACTIVE = new Set(["permit_issued", "in_progress", "hidden_works_accepted", "completed"]);
const PASS_STATUSES = new Set(["applied", "drawings_review", "permit_issued", "in_progress", "hidden_works_accepted"]);
const EXTENSION_STATUSES = new Set(["permit_issued", "in_progress", "hidden_works_accepted"]);
const SIGNING = ["customer_service", "engineering", "security"];
const MANAGERS = new Set(["manager", "admin"]);
const DESK_ROLES = new Set(["dispatcher", "manager", "admin"]);
const STAFF_ROLES = new Set(["department", "inspector", "dispatcher"]);
/** Step (API path segment) → the status it leads to (null: stays). */
const STEP_TO = {
  "submit-drawings": "drawings_review", "approve-drawings": null, "reject-drawings": "applied",
  "fire-approval": null, sign: null, issue: "permit_issued", start: "in_progress",
  "accept-hidden-works": "hidden_works_accepted", complete: "completed",
  "accept-completion": "completion_accepted", "settle-deposit": "deposit_settled", close: "closed",
};
const FILTERS = ["active", "applying", "all", "closed"];

addStrings({
  "zh-CN": {
    "ren.title": "装修管理",
    "ren.outbox": "装修",
    "ren.sep": "、",
    "ren.f.pick_floor": "先选楼栋和楼层，再点房号",
    "tile.renovations": "装修管理",
    "ren.new": "登记装修申请",
    "ren.search": "搜索房号 / 业主",
    "ren.filter.active": "施工中",
    "ren.filter.applying": "申请中",
    "ren.filter.all": "全部",
    "ren.filter.closed": "已结束",
    "ren.count": "{n} 项",
    "ren.empty": "没有符合条件的装修",
    "ren.offline_copy": "离线：显示 {time} 保存的数据",
    "ren.not_saved": "离线，且此前未在本机打开过",
    "ren.load_failed": "无法加载：{message}",
    "ren.board": "装修动态表",
    "ren.rules": "装修规则",
    "ren.violations": "违章记录",
    "ren.status.applied": "已申请",
    "ren.status.drawings_review": "图纸审核",
    "ren.status.permit_issued": "已发证",
    "ren.status.in_progress": "施工中",
    "ren.status.hidden_works_accepted": "隐蔽已验收",
    "ren.status.completed": "已完工",
    "ren.status.completion_accepted": "竣工已验收",
    "ren.status.deposit_settled": "押金已结算",
    "ren.status.closed": "已关闭",
    "ren.days_left": "剩 {n} 天",
    "ren.overdue": "超期 {n} 天",
    "ren.ends_today": "今天到期",
    "ren.period": "{from} 至 {to}",
    "ren.step_of": "第 {n}/{m} 步",
    "ren.all_steps": "全部环节",
    "ren.to_send": "待同步",
    "ren.queued": "本机待发送 {n} 项",
    "ren.rejected": "未被受理：{label}：{reason}",
    "ren.parties": "业主与施工单位",
    "ren.owner": "业主",
    "ren.owner_phone": "业主电话",
    "ren.company": "施工单位",
    "ren.licence": "营业执照",
    "ren.qualification": "资质",
    "ren.person": "负责人",
    "ren.person_phone": "负责人电话",
    "ren.area": "面积",
    "ren.area_value": "{n} ㎡",
    "ren.deposits": "押金",
    "ren.owner_deposit": "业主押金",
    "ren.contractor_deposit": "施工押金",
    "ren.yuan": "{n} 元",
    "ren.approvals": "图纸、消防与会签",
    "ren.drawings": "图纸审核",
    "ren.drawings_ok": "已通过（{who}）",
    "ren.drawings_wait": "待工程部审核",
    "ren.fire": "消防审批",
    "ren.fire_not_needed": "≤200㎡ 无需",
    "ren.fire_ok": "已批准（{ref}）",
    "ren.fire_wait": ">200㎡ 需消防审批",
    "ren.signed": "已签（{who}）",
    "ren.unsigned": "未签",
    "ren.workers": "施工人员（{n}）",
    "ren.worker_pass": "出入证 {number} · 至 {day}",
    "ren.worker_expired": "已过期",
    "ren.hot_work": "动火证（{n}）",
    "ren.extensions": "延期申请（{n}）",
    "ren.ext.requested": "待审核",
    "ren.ext.reviewed": "待批准",
    "ren.ext.approved": "已批准",
    "ren.ext.rejected": "已驳回",
    "ren.ext_line": "延至 {day}：{reason}",
    "ren.timeline": "办理记录",
    "ren.none": "无",
    "ren.links": "验收与结算",
    "ren.link.hidden_works": "隐蔽工程验收",
    "ren.link.completion": "竣工验收",
    "ren.link.settlement": "押金结算",
    "ren.next": "下一步",
    "ren.step.submit-drawings": "提交图纸审核",
    "ren.step.approve-drawings": "图纸审核通过",
    "ren.step.reject-drawings": "退回图纸",
    "ren.step.fire-approval": "登记消防审批",
    "ren.step.sign": "会签：{dept}",
    "ren.step.issue": "发放施工许可证",
    "ren.step.start": "开工",
    "ren.step.accept-hidden-works": "隐蔽工程验收通过",
    "ren.step.complete": "完工登记",
    "ren.step.accept-completion": "竣工验收通过",
    "ren.step.settle-deposit": "押金结算",
    "ren.step.close": "关闭",
    "ren.step.worker": "登记施工人员：{name}",
    "ren.step.hot_work": "动火证：{from} 至 {to}",
    "ren.step.extension": "延期至 {day}",
    "ren.step.ext-review": "延期审核通过",
    "ren.step.ext-approve": "批准延期",
    "ren.step.ext-reject": "驳回延期",
    "ren.step.register": "装修登记：{unit}",
    "ren.issue_missing": "发证前还需：{what}",
    "ren.need.drawings": "图纸审核",
    "ren.need.fire": "消防审批",
    "ren.need.signatures": "三部门会签",
    "ren.confirm": "确定要“{step}”吗？",
    "ren.saved": "已保存，联网后自动提交",
    "ren.add_worker": "登记施工人员",
    "ren.add_hot_work": "办理动火证",
    "ren.add_extension": "申请延期",
    "ren.f.name": "姓名",
    "ren.f.id_number": "身份证号",
    "ren.f.pass_number": "出入证号",
    "ren.f.valid_until": "有效期至",
    "ren.f.starts_on": "开始日期",
    "ren.f.ends_on": "结束日期",
    "ren.f.location": "动火位置",
    "ren.f.requested_until": "延期至",
    "ren.f.reason": "原因",
    "ren.f.fee": "延期费（元）",
    "ren.f.note": "原因 / 备注",
    "ren.f.reference": "消防审批文号",
    "ren.f.building": "楼栋",
    "ren.f.floor": "楼层",
    "ren.f.unit": "房号",
    "ren.f.owner_name": "业主姓名",
    "ren.f.owner_phone": "业主电话",
    "ren.f.company": "施工单位",
    "ren.f.licence": "营业执照号",
    "ren.f.qualification": "资质等级",
    "ren.f.person": "施工负责人",
    "ren.f.person_phone": "负责人电话",
    "ren.f.area": "装修面积（㎡）",
    "ren.f.owner_deposit": "业主押金（元）",
    "ren.f.contractor_deposit": "施工押金（元）",
    "ren.f.optional_end": "结束日期（不填则按项目规定工期）",
    "ren.f.required": "请填写：{what}",
    "ren.f.bad_date": "结束日期不能早于开始日期",
    "ren.f.unit_busy": "已有装修",
    "ren.f.units_loading": "正在读取房号…",
    "ren.f.units_failed": "无法读取房号（需联网）",
    "ren.f.submit": "提交登记",
    "ren.f.save": "保存",
    "ren.f.cancel": "取消",
    "ren.f.sending": "正在提交…",
    "ren.f.no_desk": "只有客服 / 信息处理员 / 主管可以登记装修",
    "ren.tl.apply": "登记申请",
    "ren.tl.submit_drawings": "提交图纸",
    "ren.tl.approve_drawings": "图纸审核通过",
    "ren.tl.reject_drawings": "图纸退回",
    "ren.tl.record_fire_approval": "消防审批",
    "ren.tl.sign": "会签",
    "ren.tl.issue": "发放许可证",
    "ren.tl.start": "开工",
    "ren.tl.accept_hidden_works": "隐蔽工程验收",
    "ren.tl.complete": "完工",
    "ren.tl.accept_completion": "竣工验收",
    "ren.tl.settle_deposit": "押金结算",
    "ren.tl.close": "关闭",
    "ren.tl.add_worker": "登记施工人员",
    "ren.tl.hot_work": "动火证",
    "ren.tl.extension_request": "申请延期",
    "ren.tl.extension_review": "延期审核",
    "ren.tl.extension_approve": "延期批准",
    "ren.tl.extension_reject": "延期驳回",
  },
  en: {
    "ren.title": "Renovations",
    "ren.outbox": "Renovation",
    "ren.sep": ", ",
    "ren.f.pick_floor": "Pick the building and floor, then tap the unit",
    "tile.renovations": "Renovations",
    "ren.new": "Register a renovation",
    "ren.search": "Search unit / owner",
    "ren.filter.active": "Working",
    "ren.filter.applying": "Applying",
    "ren.filter.all": "All",
    "ren.filter.closed": "Finished",
    "ren.count": "{n}",
    "ren.empty": "No renovations match",
    "ren.offline_copy": "Offline: data saved at {time}",
    "ren.not_saved": "Offline, and not opened on this phone before",
    "ren.load_failed": "Could not load: {message}",
    "ren.board": "Renovation board",
    "ren.rules": "Renovation rules",
    "ren.violations": "Violations",
    "ren.status.applied": "Applied",
    "ren.status.drawings_review": "Drawings review",
    "ren.status.permit_issued": "Permit issued",
    "ren.status.in_progress": "In progress",
    "ren.status.hidden_works_accepted": "Hidden works accepted",
    "ren.status.completed": "Completed",
    "ren.status.completion_accepted": "Completion accepted",
    "ren.status.deposit_settled": "Deposit settled",
    "ren.status.closed": "Closed",
    "ren.days_left": "{n} days left",
    "ren.overdue": "{n} days overdue",
    "ren.ends_today": "Ends today",
    "ren.period": "{from} to {to}",
    "ren.step_of": "Step {n}/{m}",
    "ren.all_steps": "All stages",
    "ren.to_send": "to send",
    "ren.queued": "{n} waiting on this phone",
    "ren.rejected": "Not accepted: {label}: {reason}",
    "ren.parties": "Owner and contractor",
    "ren.owner": "Owner",
    "ren.owner_phone": "Owner's phone",
    "ren.company": "Contractor",
    "ren.licence": "Licence",
    "ren.qualification": "Qualification",
    "ren.person": "Person in charge",
    "ren.person_phone": "Their phone",
    "ren.area": "Area",
    "ren.area_value": "{n} m²",
    "ren.deposits": "Deposits",
    "ren.owner_deposit": "Owner's deposit",
    "ren.contractor_deposit": "Contractor's deposit",
    "ren.yuan": "¥{n}",
    "ren.approvals": "Drawings, fire and signatures",
    "ren.drawings": "Drawings",
    "ren.drawings_ok": "Approved ({who})",
    "ren.drawings_wait": "Waiting for engineering",
    "ren.fire": "Fire approval",
    "ren.fire_not_needed": "≤200 m², not needed",
    "ren.fire_ok": "Approved ({ref})",
    "ren.fire_wait": ">200 m², needed",
    "ren.signed": "Signed ({who})",
    "ren.unsigned": "Not signed",
    "ren.workers": "Workers ({n})",
    "ren.worker_pass": "Pass {number} · until {day}",
    "ren.worker_expired": "Expired",
    "ren.hot_work": "Hot-work permits ({n})",
    "ren.extensions": "Extensions ({n})",
    "ren.ext.requested": "Requested",
    "ren.ext.reviewed": "Reviewed",
    "ren.ext.approved": "Approved",
    "ren.ext.rejected": "Rejected",
    "ren.ext_line": "Until {day}: {reason}",
    "ren.timeline": "History",
    "ren.none": "None",
    "ren.links": "Acceptance and settlement",
    "ren.link.hidden_works": "Hidden works acceptance",
    "ren.link.completion": "Completion acceptance",
    "ren.link.settlement": "Deposit settlement",
    "ren.next": "Next",
    "ren.step.submit-drawings": "Submit drawings",
    "ren.step.approve-drawings": "Approve drawings",
    "ren.step.reject-drawings": "Reject drawings",
    "ren.step.fire-approval": "Record fire approval",
    "ren.step.sign": "Sign: {dept}",
    "ren.step.issue": "Issue the permit",
    "ren.step.start": "Start work",
    "ren.step.accept-hidden-works": "Accept hidden works",
    "ren.step.complete": "Record completion",
    "ren.step.accept-completion": "Accept completion",
    "ren.step.settle-deposit": "Settle deposit",
    "ren.step.close": "Close",
    "ren.step.worker": "Register worker: {name}",
    "ren.step.hot_work": "Hot work: {from} to {to}",
    "ren.step.extension": "Extend to {day}",
    "ren.step.ext-review": "Review extension",
    "ren.step.ext-approve": "Approve extension",
    "ren.step.ext-reject": "Reject extension",
    "ren.step.register": "Renovation: {unit}",
    "ren.issue_missing": "Before issuing: {what}",
    "ren.need.drawings": "drawings approval",
    "ren.need.fire": "fire approval",
    "ren.need.signatures": "three signatures",
    "ren.confirm": "\u201c{step}\u201d — are you sure?",
    "ren.saved": "Saved; it is sent when online",
    "ren.add_worker": "Register a worker",
    "ren.add_hot_work": "Hot-work permit",
    "ren.add_extension": "Request extension",
    "ren.f.name": "Name",
    "ren.f.id_number": "ID number",
    "ren.f.pass_number": "Pass number",
    "ren.f.valid_until": "Valid until",
    "ren.f.starts_on": "From",
    "ren.f.ends_on": "To",
    "ren.f.location": "Where",
    "ren.f.requested_until": "Extend to",
    "ren.f.reason": "Reason",
    "ren.f.fee": "Fee (¥)",
    "ren.f.note": "Reason / note",
    "ren.f.reference": "Fire approval reference",
    "ren.f.building": "Building",
    "ren.f.floor": "Floor",
    "ren.f.unit": "Unit",
    "ren.f.owner_name": "Owner's name",
    "ren.f.owner_phone": "Owner's phone",
    "ren.f.company": "Contractor",
    "ren.f.licence": "Licence number",
    "ren.f.qualification": "Qualification",
    "ren.f.person": "Person in charge",
    "ren.f.person_phone": "Their phone",
    "ren.f.area": "Area (m²)",
    "ren.f.owner_deposit": "Owner's deposit (¥)",
    "ren.f.contractor_deposit": "Contractor's deposit (¥)",
    "ren.f.optional_end": "End date (empty: the site's usual period)",
    "ren.f.required": "Please fill in: {what}",
    "ren.f.bad_date": "The end cannot be before the start",
    "ren.f.unit_busy": "Has a permit",
    "ren.f.units_loading": "Loading units…",
    "ren.f.units_failed": "Could not load the units (needs the network)",
    "ren.f.submit": "Register",
    "ren.f.save": "Save",
    "ren.f.cancel": "Cancel",
    "ren.f.sending": "Sending…",
    "ren.f.no_desk": "Only the desk (customer service, dispatcher, manager) registers renovations",
    "ren.tl.apply": "Registered",
    "ren.tl.submit_drawings": "Drawings submitted",
    "ren.tl.approve_drawings": "Drawings approved",
    "ren.tl.reject_drawings": "Drawings rejected",
    "ren.tl.record_fire_approval": "Fire approval",
    "ren.tl.sign": "Signed",
    "ren.tl.issue": "Permit issued",
    "ren.tl.start": "Work started",
    "ren.tl.accept_hidden_works": "Hidden works accepted",
    "ren.tl.complete": "Completed",
    "ren.tl.accept_completion": "Completion accepted",
    "ren.tl.settle_deposit": "Deposit settled",
    "ren.tl.close": "Closed",
    "ren.tl.add_worker": "Worker registered",
    "ren.tl.hot_work": "Hot-work permit",
    "ren.tl.extension_request": "Extension requested",
    "ren.tl.extension_review": "Extension reviewed",
    "ren.tl.extension_approve": "Extension approved",
    "ren.tl.extension_reject": "Extension rejected",
  },
});

// ---------------------------------------------------------------------------------------------
// Who may do what (the same rules as server/renovation_flow.py; the server has the last word)

function deptOf(me) {
  return me?.department?.code || null;
}
function actsFor(me, dept) {
  return STAFF_ROLES.has(me.role) && deptOf(me) === dept;
}
export function isDesk(me) {
  return DESK_ROLES.has(me.role) || actsFor(me, "customer_service");
}
function isEngineer(me) {
  return MANAGERS.has(me.role) || actsFor(me, "engineering");
}
function maySign(me, dept) {
  return MANAGERS.has(me.role) || actsFor(me, dept);
}
function mayHotWork(me) {
  return MANAGERS.has(me.role) || actsFor(me, "security");
}

/** The person's next steps on `permit` (status as the queued steps leave it). */
export function nextSteps(me, permit, status) {
  const out = [];
  const drawingsOk = Boolean(permit.drawings?.reviewer);
  const fire = permit.fire_approval || {};
  const signed = SIGNING.filter((d) => permit.signatures?.[d]?.by);
  if (status === "applied" && isDesk(me)) out.push({ step: "submit-drawings", primary: true });
  if (status === "drawings_review") {
    if (isEngineer(me) && !drawingsOk) out.push({ step: "approve-drawings", primary: true }, { step: "reject-drawings", form: "note" });
    if (drawingsOk) {
      for (const dept of SIGNING) {
        if (!signed.includes(dept) && maySign(me, dept)) out.push({ step: "sign", department: dept, primary: !MANAGERS.has(me.role) });
      }
    }
    if (isDesk(me)) {
      const missing = [];
      if (!drawingsOk) missing.push(t("ren.need.drawings"));
      if (fire.required && !fire.approved) missing.push(t("ren.need.fire"));
      if (signed.length < SIGNING.length) missing.push(t("ren.need.signatures"));
      out.push({ step: "issue", primary: true, blocked: missing.length ? t("ren.issue_missing", { what: missing.join(t("ren.sep")) }) : null });
    }
  }
  if ((status === "applied" || status === "drawings_review") && isDesk(me) && fire.required && !fire.approved) {
    out.push({ step: "fire-approval", form: "reference" });
  }
  if (status === "permit_issued" && isDesk(me)) out.push({ step: "start", primary: true });
  if (status === "in_progress" && isEngineer(me)) out.push({ step: "accept-hidden-works", link: "acceptance/hidden_works", primary: true });
  if (status === "hidden_works_accepted" && isDesk(me)) out.push({ step: "complete", primary: true });
  if (status === "completed" && isEngineer(me)) out.push({ step: "accept-completion", link: "acceptance/completion", primary: true });
  if (status === "completion_accepted" && MANAGERS.has(me.role)) out.push({ step: "settle-deposit", link: "settlement", primary: true });
  if (status === "deposit_settled" && isDesk(me)) out.push({ step: "close", primary: true });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function yuan(fen) {
  const n = Number(fen || 0) / 100;
  return t("ren.yuan", { n: n.toLocaleString("zh-CN", { minimumFractionDigits: n % 1 ? 2 : 0, maximumFractionDigits: 2 }) });
}

function toFen(text) {
  const value = Number(String(text || "0").replace(/[,，\s]/g, ""));
  return Number.isFinite(value) && value >= 0 ? Math.round(value * 100) : null;
}

function unitText(unit) {
  if (!unit) return "";
  return [unit.building, unit.number].filter(Boolean).join(" ");
}

function clockText(value) {
  const d = typeof value === "number" ? new Date(value) : new Date(Date.parse(value));
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function todayOf(ctx, siteId) {
  return siteClock(timezoneOf(ctx.me, siteId ?? ctx.site?.id)).today;
}

/** Days left from ends_on and the site's today (null unless the work is on). */
function daysLeft(ctx, permit) {
  if (!ACTIVE.has(permit.status) || !permit.ends_on) return null;
  return daysBetween(todayOf(ctx, permit.site_id), permit.ends_on);
}

function leftChip(left) {
  if (left === null || left === undefined) return null;
  const cls = left < 0 ? "is-overdue" : left <= 7 ? "is-soon" : "is-ok";
  const text = left < 0 ? t("ren.overdue", { n: -left }) : left === 0 ? t("ren.ends_today") : t("ren.days_left", { n: left });
  return h("span", { class: `ren-left ${cls}`, "data-testid": "ren-days-left" }, text);
}

function statusChip(status, pending = false) {
  return h("span", { class: `wo-status ren-status ren-status-${status}${pending ? " is-pending" : ""}`,
    "data-testid": "ren-status", "data-status": status },
  t(`ren.status.${status}`), pending ? ` · ${t("ren.to_send")}` : "");
}

function field(label, input, hint) {
  const id = input.id || `ren-f-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  return h("div", { class: "field" }, h("label", { class: "field-label", for: id }, label), input,
    hint ? h("p", { class: "muted" }, hint) : null);
}

function input(testid, attrs = {}) {
  return h("input", { class: "input", "data-testid": testid, autocomplete: "off", ...attrs });
}

/** Keep a permit the server answered (for offline), and forget the oldest beyond MAX_CACHED. */
async function keepPermit(userId, permit) {
  if (!permit || typeof permit.id !== "number") return;
  await store.putCached("permit", userId, permit.id, permit);
  const index = await store.getCached("permit-index", userId, "").catch(() => null);
  const all = [permit.id, ...((index?.value || []).filter((id) => id !== permit.id))];
  await store.putCached("permit-index", userId, "", all.slice(0, MAX_CACHED));
  for (const id of all.slice(MAX_CACHED)) await store.dropCached("permit", userId, id);
}

/** A permit as the server answers it (not an acceptance round, a deduction … of the same group). */
function isPermit(value) {
  return Boolean(value && typeof value.id === "number" && value.unit && Array.isArray(value.timeline));
}

// A queued step the server took answers the permit as it now is: that is the phone's copy.
onRequestSynced(async (record, response, user) => {
  if (!String(record.group || "").startsWith("renovation:")) return;
  if (isPermit(response)) await keepPermit(user.id, response);
});

/**
 * Queue a write of permit `permitId` (group keeps the order) and try to send it now; if it is
 * still on the phone a moment later (offline, server busy), say so.
 */
async function queue(ctx, permitId, path, body, label, photos = []) {
  return queueAndSend(
    { path, body, photos, group: permitId ? `renovation:${permitId}` : null, label, userId: ctx.me.id },
    permitId ? () => toast(t("ren.saved")) : null,
  );
}

// ---------------------------------------------------------------------------------------------
// The list

function listFilter(filter, status) {
  if (filter === "active") return ACTIVE.has(status);
  if (filter === "applying") return status === "applied" || status === "drawings_review";
  if (filter === "closed") return !ACTIVE.has(status) && status !== "applied" && status !== "drawings_review";
  return true;
}

/** @param {import("../app.js").Ctx} ctx */
export function renderList(ctx) {
  const search = new URLSearchParams(location.search);
  const view = { filter: FILTERS.includes(search.get("filter")) ? search.get("filter") : "active",
    q: search.get("q") || "" };
  const siteId = ctx.site?.id ?? null;
  const screen = h("section", { class: "ren-list wo-queue", "data-testid": "ren-list", "data-source": "loading" });
  const note = h("p", { class: "wo-offline", role: "status", hidden: true, "data-testid": "ren-offline" });
  const list = h("ul", { class: "wo-cards", "data-testid": "ren-cards" });
  const count = h("span", { class: "wo-count", "data-testid": "ren-count" });
  const local = h("ul", { class: "wo-cards", "data-testid": "ren-local" });
  let items = [];

  const chips = h("div", { class: "board-chip-row ren-chips", role: "group" });
  const drawChips = () => chips.replaceChildren(...FILTERS.map((f) => h("button", {
    type: "button", class: "board-chip", "aria-pressed": view.filter === f ? "true" : "false",
    "data-testid": `ren-filter-${f}`, onclick: () => {
      view.filter = f;
      remember();
      drawChips();
      drawList();
    } }, t(`ren.filter.${f}`),
  h("span", { class: "board-chip-count" }, ` ${items.filter((p) => listFilter(f, p.status)).length}`))));
  const searchBox = input("ren-search", { type: "search", placeholder: t("ren.search"), value: view.q,
    "aria-label": t("ren.search"), enterkeyhint: "search" });
  searchBox.addEventListener("input", () => {
    view.q = searchBox.value;
    remember();
    drawList();
  });

  function remember() {
    const params = new URLSearchParams();
    if (view.filter !== "active") params.set("filter", view.filter);
    if (view.q) params.set("q", view.q);
    history.replaceState(null, "", `/app/renovations${params.toString() ? `?${params}` : ""}`);
  }

  function drawList() {
    const q = view.q.trim().toLowerCase();
    const shown = items.filter((p) => listFilter(view.filter, p.status)).filter((p) => !q
      || unitText(p.unit).toLowerCase().includes(q) || String(p.unit?.number || "").includes(q)
      || String(p.owner_name || "").toLowerCase().includes(q));
    count.textContent = t("ren.count", { n: shown.length });
    list.replaceChildren(...(shown.length ? shown.map((p) => permitCard(ctx, p))
      : [h("li", { class: "muted", "data-testid": "ren-empty" }, t("ren.empty"))]));
  }

  const links = [];
  if (ctx.hasScreen("/app/renovations/board")) links.push(h("a", { class: "btn ren-link", href: "/app/renovations/board", "data-testid": "ren-board-link" }, t("ren.board")));
  if (ctx.hasScreen("/app/violations")) links.push(h("a", { class: "btn ren-link", href: "/app/violations" }, t("ren.violations")));
  if (ctx.hasScreen("/app/renovations/rules") && MANAGERS.has(ctx.me.role)) links.push(h("a", { class: "btn ren-link", href: "/app/renovations/rules" }, t("ren.rules")));

  screen.append(...[
    h("div", { class: "wo-queue-head" }, h("h1", { class: "page-title" }, t("ren.title")), count),
    note, searchBox, chips,
    links.length ? h("div", { class: "ren-links" }, links) : null,
    local,
    list,
    isDesk(ctx.me) ? h("div", { class: "wo-bottom" },
      h("a", { class: "btn btn-primary btn-block", href: "/app/renovations/new", "data-testid": "ren-new" }, t("ren.new"))) : null,
  ].filter(Boolean));
  drawChips();

  (async () => {
    let source = "server";
    try {
      items = await api(`/api/renovations${siteId ? `?site=${siteId}` : ""}`);
      store.putCached("permits", ctx.me.id, siteId, items).catch(() => {});
      prefetch(ctx.me.id, items);
    } catch (error) {
      const kept = await store.getCached("permits", ctx.me.id, siteId).catch(() => null);
      if (kept && error instanceof NetworkError) {
        items = kept.value;
        source = "cache";
        note.textContent = t("ren.offline_copy", { time: clockText(kept.fetched_at) });
        note.hidden = false;
      } else {
        source = "error";
        note.textContent = error instanceof NetworkError ? t("ren.not_saved")
          : t("ren.load_failed", { message: error instanceof ApiError ? error.message : String(error) });
        note.hidden = false;
      }
    }
    screen.dataset.source = source;
    drawChips();
    drawList();
    // Registrations taken offline and not on the server yet: shown on top, to the outbox.
    const mine = (await store.listRequests(ctx.me.id).catch(() => []))
      .filter((row) => row.record.path === "/api/renovations" && row.status !== "synced");
    local.replaceChildren(...mine.map((row) => h("li", null, h("a", { class: "wo-card sla-none", href: "/app/outbox",
      "data-testid": "ren-local-card", "data-status": row.status },
    h("p", { class: "wo-card-title" }, row.record.label),
    h("div", { class: "wo-card-meta" }, h("span", { class: `wo-pending${row.status === "rejected" ? " is-rejected" : ""}` },
      row.status === "rejected" ? row.reason || row.code : t("ren.to_send")))))));
  })();
  return screen;
}

function permitCard(ctx, p) {
  const left = daysLeft(ctx, p); // from the site's today, so a copy kept offline since yesterday is right
  const sla = left === null || left === undefined ? "sla-none" : left < 0 ? "sla-overdue" : left <= 7 ? "sla-soon" : "sla-ok";
  return h("li", null, h("a", { class: `wo-card ${sla}`, href: `/app/renovations/${p.id}`, "data-testid": "ren-card",
    "data-id": p.id, "data-status": p.status },
  h("div", { class: "wo-card-top" },
    h("p", { class: "wo-card-title" }, unitText(p.unit) || `#${p.id}`),
    statusChip(p.status)),
  h("p", { class: "wo-card-where" }, [p.owner_name, p.contractor_company].filter(Boolean).join(" · ")),
  h("div", { class: "wo-card-meta" },
    h("span", null, t("ren.period", { from: p.starts_on || "", to: p.ends_on || "" })),
    leftChip(left))));
}

/** Keep the newest MAX_CACHED permits of the list on the phone (one at a time, in the background). */
async function prefetch(userId, items) {
  const newest = [...items].filter((p) => p.status !== "closed").slice(0, MAX_CACHED);
  for (const summary of newest) {
    const kept = await store.getCached("permit", userId, summary.id).catch(() => null);
    if (kept && kept.value.updated_at === summary.updated_at) continue;
    try {
      await keepPermit(userId, await api(`/api/renovations/${summary.id}`));
    } catch {
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Registration

/** @param {import("../app.js").Ctx} ctx */
export function renderNew(ctx) {
  const screen = h("section", { class: "ren-new wo-detail", "data-testid": "ren-new-screen" },
    h("h1", { class: "page-title" }, t("ren.new")));
  if (!isDesk(ctx.me) || !ctx.site) {
    screen.append(h("p", { class: "form-error", role: "alert" }, t("ren.f.no_desk")));
    return screen;
  }
  const site = ctx.site;
  const state = { unit: null };
  const error = h("p", { class: "form-error", role: "alert", hidden: true, "data-testid": "ren-form-error" });
  const building = h("select", { class: "input", "data-testid": "ren-building" });
  const floor = h("select", { class: "input", "data-testid": "ren-floor" });
  const units = h("div", { class: "ren-units", role: "radiogroup", "aria-label": t("ren.f.unit"), "data-testid": "ren-units" });
  const today = todayOf(ctx, site.id);
  const f = {
    owner_name: input("ren-owner-name", { autocomplete: "name" }),
    owner_phone: input("ren-owner-phone", { type: "tel", inputmode: "tel" }),
    contractor_company: input("ren-company"),
    contractor_licence: input("ren-licence"),
    contractor_qualification: input("ren-qualification"),
    contractor_person: input("ren-person"),
    contractor_phone: input("ren-person-phone", { type: "tel", inputmode: "tel" }),
    area_m2: input("ren-area", { type: "number", inputmode: "decimal", min: "0", step: "0.1" }),
    starts_on: input("ren-starts-on", { type: "date", value: today }),
    ends_on: input("ren-ends-on", { type: "date" }),
    owner_deposit: input("ren-owner-deposit", { type: "number", inputmode: "decimal", min: "0", step: "0.01" }),
    contractor_deposit: input("ren-contractor-deposit", { type: "number", inputmode: "decimal", min: "0", step: "0.01" }),
  };
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block", "data-testid": "ren-submit" }, t("ren.f.submit"));

  async function loadUnits() {
    state.unit = null;
    const floorId = Number(floor.value);
    if (!floorId) {
      units.replaceChildren(h("p", { class: "muted ren-units-hint" }, t("ren.f.pick_floor")));
      return;
    }
    units.replaceChildren(h("p", { class: "muted" }, t("ren.f.units_loading")));
    let rows;
    try {
      rows = await api(`/api/floors/${floorId}/units`);
      store.putCached("units", ctx.me.id, floorId, rows).catch(() => {});
    } catch {
      rows = (await store.getCached("units", ctx.me.id, floorId).catch(() => null))?.value;
    }
    if (Number(floor.value) !== floorId) return;
    if (!rows) {
      units.replaceChildren(h("p", { class: "form-error" }, t("ren.f.units_failed")));
      return;
    }
    units.replaceChildren(...rows.map((u) => {
      const busy = u.permit_id != null;
      const button = h("button", { type: "button", class: "ren-unit", role: "radio", "aria-checked": "false",
        disabled: busy, "data-testid": "ren-unit", "data-number": u.number, "data-id": u.id,
        onclick: () => {
          state.unit = u;
          for (const b of units.querySelectorAll(".ren-unit")) b.setAttribute("aria-checked", b === button ? "true" : "false");
        } }, h("strong", null, u.number), busy ? h("small", null, t("ren.f.unit_busy")) : null);
      return button;
    }));
  }

  // Buildings and floors come from the catalogue on the phone; just after login it may still be
  // on its way: fill the pickers when it arrives.
  async function fillBuildings() {
    const catalogue = await store.getCatalogue().catch(() => null);
    const buildings = (catalogue?.buildings || []).filter((b) => b.site_id === site.id)
      .sort((a, b) => String(a.code).localeCompare(String(b.code), "zh-CN", { numeric: true }));
    if (!buildings.length) return false;
    building.replaceChildren(h("option", { value: "" }, "—"), ...buildings.map((b) => h("option", { value: String(b.id) }, b.name || b.code)));
    building.onchange = () => {
      const floors = (catalogue?.floors || []).filter((fl) => fl.building_id === Number(building.value))
        .sort((a, b) => b.level - a.level);
      floor.replaceChildren(h("option", { value: "" }, "—"), ...floors.map((fl) => h("option", { value: String(fl.id) }, fl.name)));
      loadUnits();
    };
    if (buildings.length === 1) {
      building.value = String(buildings[0].id);
      building.onchange(null);
    }
    return true;
  }
  floor.onchange = loadUnits;
  loadUnits();
  fillBuildings().then((filled) => {
    if (filled) return;
    const onChanged = async () => {
      if (!screen.isConnected || (await fillBuildings())) window.removeEventListener("xunjian:store-changed", onChanged);
    };
    window.addEventListener("xunjian:store-changed", onChanged);
  });

  const form = h("form", { class: "ren-form", novalidate: true, "data-testid": "ren-form", onsubmit: async (event) => {
    event.preventDefault();
    error.hidden = true;
    const missing = [];
    if (!state.unit) missing.push(t("ren.f.unit"));
    if (!f.owner_name.value.trim()) missing.push(t("ren.f.owner_name"));
    if (!f.starts_on.value) missing.push(t("ren.f.starts_on"));
    const ownerDeposit = toFen(f.owner_deposit.value);
    const contractorDeposit = toFen(f.contractor_deposit.value);
    if (ownerDeposit === null) missing.push(t("ren.f.owner_deposit"));
    if (contractorDeposit === null) missing.push(t("ren.f.contractor_deposit"));
    if (missing.length || (f.ends_on.value && f.ends_on.value < f.starts_on.value)) {
      error.textContent = missing.length ? t("ren.f.required", { what: missing.join(t("ren.sep")) }) : t("ren.f.bad_date");
      error.hidden = false;
      error.scrollIntoView({ block: "center" });
      return;
    }
    const body = {
      site: site.id, unit: state.unit.id, owner_name: f.owner_name.value.trim(), starts_on: f.starts_on.value,
      owner_phone: f.owner_phone.value.trim(), contractor_company: f.contractor_company.value.trim(),
      contractor_licence: f.contractor_licence.value.trim(),
      contractor_qualification: f.contractor_qualification.value.trim(),
      contractor_person: f.contractor_person.value.trim(), contractor_phone: f.contractor_phone.value.trim(),
      area_m2: Number(f.area_m2.value || 0), owner_deposit: ownerDeposit, contractor_deposit: contractorDeposit,
    };
    if (f.ends_on.value) body.ends_on = f.ends_on.value;
    submit.disabled = true;
    submit.textContent = t("ren.f.sending");
    const unitLabel = `${building.selectedOptions[0]?.textContent || ""} ${state.unit.number}`.trim();
    const id = await queue(ctx, null, "/api/renovations", body, t("ren.step.register", { unit: unitLabel }));
    // Online it is on the server in a moment: open the new permit. Offline: it waits in the outbox.
    const permit = await waitForRequest(ctx, id, navigator.onLine ? 8000 : 300);
    if (!screen.isConnected) return;
    if (permit && typeof permit.id === "number") {
      ctx.navigate(`/app/renovations/${permit.id}`, { replace: true });
      return;
    }
    const row = await store.getRecord(id);
    if (row?.status === "rejected") {
      error.textContent = row.reason || row.code;
      error.hidden = false;
      await store.deleteRecord(id).catch(() => {});
      submit.disabled = false;
      submit.textContent = t("ren.f.submit");
      return;
    }
    toast(t("ren.saved"));
    ctx.navigate("/app/renovations", { replace: true });
  } },
  h("div", { class: "card wo-section" },
    field(t("ren.f.building"), building), field(t("ren.f.floor"), floor),
    h("p", { class: "field-label" }, t("ren.f.unit")), units),
  h("div", { class: "card wo-section" },
    field(t("ren.f.owner_name"), f.owner_name), field(t("ren.f.owner_phone"), f.owner_phone),
    field(t("ren.f.area"), f.area_m2),
    field(t("ren.f.starts_on"), f.starts_on), field(t("ren.f.optional_end"), f.ends_on)),
  h("div", { class: "card wo-section" },
    field(t("ren.f.company"), f.contractor_company), field(t("ren.f.licence"), f.contractor_licence),
    field(t("ren.f.qualification"), f.contractor_qualification), field(t("ren.f.person"), f.contractor_person),
    field(t("ren.f.person_phone"), f.contractor_phone)),
  h("div", { class: "card wo-section" },
    field(t("ren.f.owner_deposit"), f.owner_deposit), field(t("ren.f.contractor_deposit"), f.contractor_deposit)),
  error,
  h("div", { class: "wo-bottom" }, submit));
  screen.append(form);
  return screen;
}

/** The server's answer to queued request `id` once synced (or null after `ms` / when refused). */
function waitForRequest(ctx, id, ms) {
  return new Promise((resolve) => {
    let done = false;
    const finish = (value) => {
      if (done) return;
      done = true;
      window.removeEventListener("xunjian:request-synced", onSynced);
      window.removeEventListener("xunjian:store-changed", onChanged);
      clearTimeout(timer);
      resolve(value);
    };
    const onSynced = (event) => {
      if (event.detail.id === id) finish(event.detail.response);
    };
    const onChanged = async () => {
      const row = await store.getRecord(id).catch(() => null);
      if (row?.status === "rejected") finish(null);
    };
    const timer = setTimeout(() => finish(null), ms);
    window.addEventListener("xunjian:request-synced", onSynced);
    window.addEventListener("xunjian:store-changed", onChanged);
  });
}

// ---------------------------------------------------------------------------------------------
// One permit

/** @param {import("../app.js").Ctx} ctx */
export function renderDetail(ctx) {
  const permitId = Number(ctx.params.id);
  const screen = h("section", { class: "ren-detail wo-detail", "data-testid": "ren-detail", "data-source": "loading" },
    h("p", { class: "muted" }, t("app.loading")));
  const view = { permit: null, source: "server", fetchedAt: null, open: null };

  async function load() {
    try {
      view.permit = await api(`/api/renovations/${permitId}`);
      view.source = "server";
      keepPermit(ctx.me.id, view.permit).catch(() => {});
    } catch (error) {
      const kept = await store.getCached("permit", ctx.me.id, permitId).catch(() => null);
      if (kept && error instanceof NetworkError) {
        view.permit = kept.value;
        view.source = "cache";
        view.fetchedAt = kept.fetched_at;
      } else {
        screen.dataset.source = "error";
        screen.replaceChildren(h("p", { class: "form-error", role: "alert", "data-testid": "ren-error" },
          error instanceof NetworkError ? t("ren.not_saved")
            : t("ren.load_failed", { message: error instanceof ApiError ? error.message : String(error) })));
        return;
      }
    }
    await draw();
  }

  let drawn = null; // what the screen shows: the permit and this permit's queue, as a key
  async function draw({ onlyIfChanged = false } = {}) {
    if (!screen.isConnected && screen.dataset.source !== "loading") return;
    const queued = await store.listRequests(ctx.me.id, `renovation:${permitId}`).catch(() => []);
    const key = JSON.stringify([view.source, view.permit?.updated_at, view.permit?.timeline?.length,
      queued.map((row) => [row.id, row.status])]);
    // Nothing of this permit changed (the catalogue, another screen's record): leave the screen
    // alone, so nothing moves under the thumb.
    if (onlyIfChanged && key === drawn) return;
    drawn = key;
    screen.dataset.source = view.source;
    screen.replaceChildren(...detail(ctx, view, queued, draw));
  }

  // A queued write of this permit was taken (its answer is the permit now), or the outbox changed.
  const onSynced = (event) => {
    if (!screen.isConnected) {
      window.removeEventListener("xunjian:request-synced", onSynced);
      window.removeEventListener("xunjian:store-changed", onChanged);
      return;
    }
    if (event.detail.group !== `renovation:${permitId}`) return;
    const response = event.detail.response;
    if (isPermit(response) && response.id === permitId) {
      view.permit = response;
      view.source = "server";
      if (!view.open) draw(); // a half-filled form stays; the permit shows when it is closed
    } else if (!view.open) {
      load(); // an acceptance sign-off or a deduction may have moved the permit on
    }
  };
  let pendingDraw = null;
  const onChanged = () => {
    if (!screen.isConnected) {
      window.removeEventListener("xunjian:request-synced", onSynced);
      window.removeEventListener("xunjian:store-changed", onChanged);
      return;
    }
    if (!view.permit || view.open) return; // never redraw under a half-filled form
    clearTimeout(pendingDraw);
    pendingDraw = setTimeout(() => draw({ onlyIfChanged: true }), 150);
  };
  window.addEventListener("xunjian:request-synced", onSynced);
  window.addEventListener("xunjian:store-changed", onChanged);
  load();
  return screen;
}

/** The label of a queued request of this permit as the outbox shows it. */
function label(permit, text) {
  return `${t("ren.outbox")} ${unitText(permit.unit)} · ${text}`;
}

/** A queued label without this permit's own "装修 1栋 2801 · " prefix (other screens' labels as they are). */
function shortLabel(permit, text) {
  const prefix = label(permit, "");
  return text && text.startsWith(prefix) && text.length > prefix.length ? text.slice(prefix.length) : text || "";
}

function stepLabel(s) {
  return s.step === "sign" ? t("ren.step.sign", { dept: departmentName(s.department) }) : t(`ren.step.${s.step}`);
}

function detail(ctx, view, queued, redraw) {
  const permit = view.permit;
  const waiting = queued.filter((row) => row.status !== "synced" && row.status !== "rejected");
  const rejected = queued.filter((row) => row.status === "rejected");
  // The status the steps waiting on the phone lead to, in order.
  let status = permit.status;
  for (const row of waiting) {
    const step = row.record.path.split("/").pop();
    if (row.record.path === `/api/renovations/${permit.id}/${step}` && STEP_TO[step]) status = STEP_TO[step];
  }
  const projected = status !== permit.status;
  const left = ACTIVE.has(status) ? daysLeft(ctx, { ...permit, status }) : null;
  const index = STATUSES.indexOf(status);
  const out = [];

  out.push(h("div", { class: "card wo-head ren-head" },
    h("div", { class: "wo-card-top" },
      h("h1", { class: "wo-detail-title", "data-testid": "ren-unit" }, unitText(permit.unit)),
      statusChip(status, projected)),
    h("p", { class: "wo-card-where" }, [permit.owner_name, permit.contractor_company].filter(Boolean).join(" · ")),
    h("div", { class: "wo-card-meta" },
      h("span", { "data-testid": "ren-head-period" }, t("ren.period", { from: permit.starts_on, to: permit.ends_on })),
      leftChip(left)),
    h("div", { class: "ren-progress", "aria-hidden": "true" },
      STATUSES.map((s, i) => h("span", { class: `ren-progress-seg${i <= index ? " is-done" : ""}${i === index ? " is-now" : ""}` }))),
    h("details", { class: "ren-stepper" },
      h("summary", null, t("ren.step_of", { n: index + 1, m: STATUSES.length }), " · ", t("ren.all_steps")),
      h("ol", { class: "ren-steps", "data-testid": "ren-stepper" }, STATUSES.map((s, i) => h("li", {
        class: i < index ? "is-done" : i === index ? "is-now" : "", "aria-current": i === index ? "step" : null },
      t(`ren.status.${s}`)))))));

  if (view.source === "cache") {
    out.push(h("p", { class: "wo-offline", role: "status", "data-testid": "ren-offline" },
      t("ren.offline_copy", { time: clockText(view.fetchedAt) })));
  }
  if (waiting.length) {
    out.push(h("div", { class: "card ren-queued", "data-testid": "ren-queued" },
      h("p", { class: "wo-section-title" }, t("ren.queued", { n: waiting.length })),
      h("ul", null, waiting.map((row) => h("li", { class: "wo-pending", "data-testid": "ren-queued-item",
        "data-status": row.status }, shortLabel(permit, row.record.label))))));
  }
  for (const row of rejected) {
    out.push(h("p", { class: "form-error", role: "alert", "data-testid": "ren-rejected" },
      t("ren.rejected", { label: shortLabel(permit, row.record.label), reason: row.reason || row.code }),
      " ", h("a", { href: "/app/outbox" }, t("outbox.title"))));
  }

  const { panel, bar } = actionsPanel(ctx, view, permit, status, waiting, redraw);
  if (panel) out.push(panel);
  out.push(...sections(ctx, view, permit, status, waiting, redraw));
  if (bar) out.push(bar);
  return out;
}

/**
 * The person's next steps: the ones that move the permit on (at most two) in a bar at the bottom
 * of the screen, within the thumb's reach; the others (reject, fire approval, a step still
 * waiting for something, with what it waits for) in a card at the top.
 */
function actionsPanel(ctx, view, permit, status, waiting, redraw) {
  const steps = nextSteps(ctx.me, permit, status);
  const queuedSteps = new Set(waiting.map((row) => row.record.path.split("/").slice(4).join("/") + (row.record.body?.department || "")));
  const shown = steps.filter((s) => !queuedSteps.has(s.step + (s.department || "")));
  if (!shown.length) return { panel: null, bar: null };
  const main = shown.filter((s) => s.primary && !s.blocked && !s.form).slice(0, 2);
  const rest = shown.filter((s) => !main.includes(s));
  const bar = main.length ? h("div", { class: "wo-bottom ren-bottom", "data-testid": "ren-bottom" }) : null;
  const panel = rest.length ? h("div", { class: "card wo-section ren-actions", "data-testid": "ren-actions" },
    h("p", { class: "wo-section-title" }, t("ren.next"))) : null;
  for (const s of shown) {
    const into = main.includes(s) ? bar : panel;
    const text = stepLabel(s);
    if (s.link) {
      const href = `/app/renovations/${permit.id}/${s.link}`;
      if (ctx.hasScreen(href)) {
        into.append(h("a", { class: `btn btn-block ${s.primary ? "btn-primary" : "btn-secondary"}`, href,
          "data-testid": `ren-step-${s.step}` }, text));
        continue;
      }
    }
    if (s.form && view.open === `${s.step}`) {
      into.append(stepForm(ctx, view, permit, s, redraw));
      continue;
    }
    const button = h("button", { type: "button", class: `btn btn-block ${s.primary ? "btn-primary" : "btn-secondary"}`,
      "data-testid": `ren-step-${s.step}`, "data-department": s.department || null, disabled: Boolean(s.blocked),
      onclick: async () => {
        if (s.form) {
          view.open = s.step;
          redraw();
          return;
        }
        if (!window.confirm(t("ren.confirm", { step: text }))) return;
        button.disabled = true;
        const body = s.department ? { department: s.department } : {};
        await queue(ctx, permit.id, `/api/renovations/${permit.id}/${s.step}`, body, label(permit, text));
        redraw();
      } }, text);
    into.append(button);
    if (s.blocked) into.append(h("p", { class: "muted", "data-testid": "ren-issue-missing" }, s.blocked));
  }
  return { panel, bar };
}

/** The small form of a step that needs words: reject (reason) or fire approval (reference). */
function stepForm(ctx, view, permit, s, redraw) {
  const isNote = s.form === "note";
  const box = isNote
    ? h("textarea", { class: "input wo-textarea", rows: "3", "data-testid": "ren-step-note" })
    : input("ren-step-reference");
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const text = stepLabel(s);
  return h("form", { class: "ren-inline-form", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    const value = box.value.trim();
    if (!value) {
      error.textContent = t("ren.f.required", { what: t(isNote ? "ren.f.note" : "ren.f.reference") });
      error.hidden = false;
      return;
    }
    await queue(ctx, permit.id, `/api/renovations/${permit.id}/${s.step}`, isNote ? { note: value } : { reference: value },
      label(permit, text));
    view.open = null;
    redraw();
  } },
  field(t(isNote ? "ren.f.note" : "ren.f.reference"), box), error,
  h("div", { class: "ren-form-buttons" },
    h("button", { type: "button", class: "btn btn-secondary", onclick: () => {
      view.open = null;
      redraw();
    } }, t("ren.f.cancel")),
    h("button", { type: "submit", class: "btn btn-primary", "data-testid": "ren-step-submit" }, text)));
}

function sections(ctx, view, permit, status, waiting, redraw) {
  const me = ctx.me;
  const contractor = permit.contractor || {};
  const today = todayOf(ctx, permit.site_id);
  const out = [];
  const tel = (phone) => (phone && !phone.includes("*") ? h("a", { href: `tel:${phone}` }, phone) : phone || "—");

  out.push(h("div", { class: "card wo-section", "data-testid": "ren-parties" },
    h("h2", { class: "wo-section-title" }, t("ren.parties")),
    h("dl", { class: "wo-facts" },
      h("dt", null, t("ren.owner")), h("dd", null, permit.owner_name || "—"),
      h("dt", null, t("ren.owner_phone")), h("dd", null, tel(permit.owner_phone)),
      h("dt", null, t("ren.company")), h("dd", null, contractor.company || "—"),
      contractor.licence ? [h("dt", null, t("ren.licence")), h("dd", null, contractor.licence)] : null,
      contractor.qualification ? [h("dt", null, t("ren.qualification")), h("dd", null, contractor.qualification)] : null,
      h("dt", null, t("ren.person")), h("dd", null, contractor.person || "—"),
      h("dt", null, t("ren.person_phone")), h("dd", null, tel(contractor.phone)),
      h("dt", null, t("ren.area")), h("dd", null, t("ren.area_value", { n: permit.area_m2 ?? 0 })),
      h("dt", null, t("ren.owner_deposit")), h("dd", { "data-testid": "ren-owner-deposit" }, yuan(permit.owner_deposit)),
      h("dt", null, t("ren.contractor_deposit")), h("dd", { "data-testid": "ren-contractor-deposit" }, yuan(permit.contractor_deposit)))));

  const fire = permit.fire_approval || {};
  const drawings = permit.drawings || {};
  out.push(h("div", { class: "card wo-section", "data-testid": "ren-approvals" },
    h("h2", { class: "wo-section-title" }, t("ren.approvals")),
    h("ul", { class: "ren-checks" },
      h("li", { class: drawings.reviewer ? "is-ok" : "" }, h("strong", null, t("ren.drawings")), " ",
        drawings.reviewer ? t("ren.drawings_ok", { who: drawings.reviewer.display_name }) : t("ren.drawings_wait")),
      h("li", { class: !fire.required || fire.approved ? "is-ok" : "" }, h("strong", null, t("ren.fire")), " ",
        !fire.required ? t("ren.fire_not_needed") : fire.approved ? t("ren.fire_ok", { ref: fire.reference }) : t("ren.fire_wait")),
      SIGNING.map((dept) => {
        const sig = permit.signatures?.[dept] || {};
        return h("li", { class: sig.by ? "is-ok" : "", "data-testid": "ren-signature", "data-dept": dept, "data-signed": sig.by ? "true" : "false" },
          h("strong", null, departmentName(dept)), " ",
          sig.by ? t("ren.signed", { who: sig.by.display_name }) : t("ren.unsigned"));
      }))));

  // Workers
  const workers = permit.workers || [];
  const workerForm = PASS_STATUSES.has(status) && isDesk(me) ? addForm(ctx, view, permit, "worker", redraw) : null;
  out.push(h("div", { class: "card wo-section", "data-testid": "ren-workers" },
    h("h2", { class: "wo-section-title" }, t("ren.workers", { n: workers.length })),
    workers.length ? h("ul", { class: "ren-rows" }, workers.map((w) => {
      const expired = w.valid_until && w.valid_until < today;
      const soon = !expired && w.valid_until && daysBetween(today, w.valid_until) <= SOON_DAYS;
      return h("li", { class: expired ? "is-expired" : soon ? "is-soon" : "", "data-testid": "ren-worker" },
        h("strong", null, w.name), " ", h("span", { class: "ren-mono" }, idTail(w.id_number)),
        h("br"), h("span", { class: "muted" }, t("ren.worker_pass", { number: w.pass_number || "—", day: w.valid_until || "—" })),
        expired ? h("strong", { class: "glance-expired" }, ` ${t("ren.worker_expired")}`)
          : soon ? h("strong", { class: "glance-soon" }, ` ${t("glance.pass_soon")}`) : null);
    })) : h("p", { class: "muted" }, t("ren.none")),
    workerForm));

  // Hot work
  const hot = permit.hot_work || [];
  out.push(h("div", { class: "card wo-section", "data-testid": "ren-hot-work" },
    h("h2", { class: "wo-section-title" }, t("ren.hot_work", { n: hot.length })),
    hot.length ? h("ul", { class: "ren-rows" }, hot.map((w) => h("li", {
      class: w.starts_on <= today && today <= w.ends_on ? "is-ok" : "" },
    t("ren.period", { from: w.starts_on, to: w.ends_on }), w.location ? ` · ${w.location}` : ""))) : h("p", { class: "muted" }, t("ren.none")),
    PASS_STATUSES.has(status) && mayHotWork(me) ? addForm(ctx, view, permit, "hot_work", redraw) : null));

  // Extensions
  const extensions = permit.extensions || [];
  out.push(h("div", { class: "card wo-section", "data-testid": "ren-extensions" },
    h("h2", { class: "wo-section-title" }, t("ren.extensions", { n: extensions.length })),
    extensions.length ? h("ul", { class: "ren-rows" }, extensions.map((x) => extensionLine(ctx, view, permit, x, waiting, redraw)))
      : h("p", { class: "muted" }, t("ren.none")),
    EXTENSION_STATUSES.has(status) && isDesk(me) && !extensions.some((x) => x.status === "requested" || x.status === "reviewed")
      ? addForm(ctx, view, permit, "extension", redraw) : null));

  // Links to acceptance, settlement, violations, the board
  const links = [];
  const reached = (s) => STATUSES.indexOf(status) >= STATUSES.indexOf(s);
  for (const [key, path, from] of [["hidden_works", "acceptance/hidden_works", "in_progress"],
    ["completion", "acceptance/completion", "completed"], ["settlement", "settlement", "completed"]]) {
    const href = `/app/renovations/${permit.id}/${path}`;
    if (!reached(from)) continue;
    if (ctx.hasScreen(href)) links.push(h("a", { class: "btn ren-link", href, "data-testid": `ren-link-${key}` }, t(`ren.link.${key}`)));
  }
  if (ctx.hasScreen("/app/violations")) links.push(h("a", { class: "btn ren-link", href: `/app/violations?permit=${permit.id}`, "data-testid": "ren-link-violations" }, t("ren.violations")));
  if (ctx.hasScreen("/app/renovations/board")) links.push(h("a", { class: "btn ren-link", href: `/app/renovations/board?site=${permit.site_id}`, "data-testid": "ren-link-board" }, t("ren.board")));
  if (links.length) out.push(h("div", { class: "card wo-section" }, h("h2", { class: "wo-section-title" }, t("ren.links")), h("div", { class: "ren-links" }, links)));

  // Timeline, newest first
  const timeline = [...(permit.timeline || [])].reverse();
  out.push(h("details", { class: "card wo-section ren-timeline", "data-testid": "ren-timeline" },
    h("summary", { class: "wo-section-title" }, t("ren.timeline"), ` (${timeline.length})`),
    h("ol", { class: "ren-rows" }, timeline.map((e) => h("li", null,
      h("strong", null, t(`ren.tl.${e.action}`) === `ren.tl.${e.action}` ? e.action : t(`ren.tl.${e.action}`)),
      e.action === "sign" && e.note ? ` · ${departmentName(e.note)}` : e.note ? ` · ${e.note}` : "",
      h("br"), h("span", { class: "muted" }, clockText(e.device_time || e.server_time), e.actor ? ` · ${e.actor.display_name || e.actor}` : ""))))));
  return out;
}

function extensionLine(ctx, view, permit, x, waiting, redraw) {
  const me = ctx.me;
  const actions = [];
  const queuedHere = waiting.some((row) => row.record.path.startsWith(`/api/renovations/${permit.id}/extensions/${x.id}/`));
  if (!queuedHere) {
    if (x.status === "requested" && isEngineer(me)) actions.push("review");
    if (x.status === "reviewed" && MANAGERS.has(me.role)) actions.push("approve");
    if ((x.status === "requested" && isEngineer(me)) || (x.status === "reviewed" && MANAGERS.has(me.role))) actions.push("reject");
  }
  const key = `ext-${x.id}-reject`;
  const note = h("textarea", { class: "input wo-textarea", rows: "2", "data-testid": "ren-ext-note" });
  return h("li", { "data-testid": "ren-extension", "data-status": x.status },
    h("span", { class: `wo-status ren-ext-${x.status}` }, t(`ren.ext.${x.status}`)), " ",
    t("ren.ext_line", { day: x.requested_until, reason: x.reason }), x.fee ? ` · ${yuan(x.fee)}` : "",
    x.note ? h("p", { class: "muted" }, x.note) : null,
    view.open === key ? h("form", { class: "ren-inline-form", onsubmit: async (event) => {
      event.preventDefault();
      if (!note.value.trim()) return;
      await queue(ctx, permit.id, `/api/renovations/${permit.id}/extensions/${x.id}/reject`, { note: note.value.trim() },
        label(permit, t("ren.step.ext-reject")));
      view.open = null;
      redraw();
    } }, field(t("ren.f.note"), note), h("div", { class: "ren-form-buttons" },
      h("button", { type: "button", class: "btn btn-secondary", onclick: () => {
        view.open = null;
        redraw();
      } }, t("ren.f.cancel")),
      h("button", { type: "submit", class: "btn btn-danger-outline" }, t("ren.step.ext-reject"))))
      : actions.length ? h("div", { class: "ren-form-buttons" }, actions.map((a) => h("button", {
        type: "button", class: `btn ${a === "reject" ? "btn-secondary" : "btn-primary"}`, "data-testid": `ren-ext-${a}`,
        onclick: async () => {
          if (a === "reject") {
            view.open = key;
            redraw();
            return;
          }
          await queue(ctx, permit.id, `/api/renovations/${permit.id}/extensions/${x.id}/${a}`, {},
            label(permit, t(`ren.step.ext-${a}`)));
          redraw();
        } }, t(`ren.step.ext-${a}`)))) : null);
}

/** Add a worker, a hot-work permit or an extension request: a button that opens its form. */
function addForm(ctx, view, permit, kind, redraw) {
  const title = t({ worker: "ren.add_worker", hot_work: "ren.add_hot_work", extension: "ren.add_extension" }[kind]);
  if (view.open !== kind) {
    return h("button", { type: "button", class: "btn btn-secondary btn-block", "data-testid": `ren-add-${kind}`,
      onclick: () => {
        view.open = kind;
        redraw();
      } }, `＋ ${title}`);
  }
  const today = todayOf(ctx, permit.site_id);
  const error = h("p", { class: "form-error", role: "alert", hidden: true, "data-testid": "ren-add-error" });
  let fields;
  if (kind === "worker") {
    fields = {
      name: input("ren-worker-name", { autocomplete: "name" }),
      id_number: input("ren-worker-id", { inputmode: "text", autocapitalize: "characters", maxlength: "32" }),
      pass_number: input("ren-worker-pass"),
      valid_until: input("ren-worker-until", { type: "date", value: permit.ends_on || "" }),
    };
  } else if (kind === "hot_work") {
    fields = {
      starts_on: input("ren-hot-from", { type: "date", value: today }),
      ends_on: input("ren-hot-to", { type: "date", value: today }),
      location: input("ren-hot-where"),
    };
  } else {
    fields = {
      requested_until: input("ren-ext-until", { type: "date" }),
      reason: h("textarea", { class: "input wo-textarea", rows: "3", "data-testid": "ren-ext-reason" }),
      fee: input("ren-ext-fee", { type: "number", inputmode: "decimal", min: "0", step: "0.01" }),
    };
  }
  const labels = { name: "ren.f.name", id_number: "ren.f.id_number", pass_number: "ren.f.pass_number",
    valid_until: "ren.f.valid_until", starts_on: "ren.f.starts_on", ends_on: "ren.f.ends_on", location: "ren.f.location",
    requested_until: "ren.f.requested_until", reason: "ren.f.reason", fee: "ren.f.fee" };
  const required = { worker: ["name", "id_number"], hot_work: ["starts_on", "ends_on"], extension: ["requested_until", "reason"] }[kind];
  return h("form", { class: "ren-inline-form", novalidate: true, "data-testid": `ren-form-${kind}`, onsubmit: async (event) => {
    event.preventDefault();
    const missing = required.filter((name) => !fields[name].value.trim()).map((name) => t(labels[name]));
    if (missing.length) {
      error.textContent = t("ren.f.required", { what: missing.join(t("ren.sep")) });
      error.hidden = false;
      return;
    }
    let body;
    let text;
    if (kind === "worker") {
      body = { name: fields.name.value.trim(), id_number: fields.id_number.value.trim().toUpperCase(),
        pass_number: fields.pass_number.value.trim() };
      if (fields.valid_until.value) body.valid_until = fields.valid_until.value;
      text = t("ren.step.worker", { name: body.name });
    } else if (kind === "hot_work") {
      if (fields.ends_on.value < fields.starts_on.value) {
        error.textContent = t("ren.f.bad_date");
        error.hidden = false;
        return;
      }
      body = { starts_on: fields.starts_on.value, ends_on: fields.ends_on.value, location: fields.location.value.trim() };
      text = t("ren.step.hot_work", { from: body.starts_on, to: body.ends_on });
    } else {
      const fee = toFen(fields.fee.value);
      if (fee === null) {
        error.textContent = t("ren.f.required", { what: t("ren.f.fee") });
        error.hidden = false;
        return;
      }
      body = { requested_until: fields.requested_until.value, reason: fields.reason.value.trim(), fee };
      text = t("ren.step.extension", { day: body.requested_until });
    }
    const path = `/api/renovations/${permit.id}/${{ worker: "workers", hot_work: "hot-work", extension: "extensions" }[kind]}`;
    await queue(ctx, permit.id, path, body, label(permit, text));
    view.open = null;
    redraw();
  } },
  h("p", { class: "field-label" }, title),
  Object.entries(fields).map(([name, el]) => field(t(labels[name]), el)),
  error,
  h("div", { class: "ren-form-buttons" },
    h("button", { type: "button", class: "btn btn-secondary", onclick: () => {
      view.open = null;
      redraw();
    } }, t("ren.f.cancel")),
    h("button", { type: "submit", class: "btn btn-primary", "data-testid": `ren-add-${kind}-save` }, t("ren.f.save"))));
}
