// Work orders on the phone: my queue (/app/work-orders) and one order (/app/work-orders/<id>).
//
// - The queue: a department worker sees their department's open orders, soonest deadline first; the
//   desk (dispatcher, manager, admin) every open order of the site, overdue first. Each card is
//   coloured by its SLA state (overdue red, due within the hour amber, else green; grey with
//   nothing due) and says the time left in words ("剩 1 小时 20 分" / "已超时 35 分").
// - One order: its title, checkpoint, description, owner, every reporter's photos, deadlines with
//   their states, the timeline, and the steps this person may take now.
// - Offline first: the queue and every order opened are kept on the phone (store.js, "orders") and
//   shown from there with "离线，显示 xx:xx 的数据" when the server cannot be reached. Every step
//   is saved to the outbox (store.js) with a client_id and sent by the sync engine exactly once;
//   the screen shows it at once as "待同步：…" and the status it will have.

import { api, ApiError, NetworkError } from "../api.js";
import { h, toast } from "../dom.js";
import { addStrings, getLang, t } from "../i18n.js";
import { photoField } from "../photo_field.js";
import { signaturePad } from "../signature.js";
import * as store from "../store.js";

addStrings({
  "zh-CN": {
    "wo.title": "工单",
    "wo.queue_title": "我的工单",
    "wo.queue_title_desk": "未完成工单",
    "wo.loading": "正在加载工单…",
    "wo.empty": "没有未完成的工单",
    "wo.failed": "工单暂时无法加载",
    "wo.offline_cached": "离线，显示 {time} 的数据",
    "wo.offline_none": "离线：本机还没有保存工单。请联网后打开一次。",
    "wo.raise": "报修",
    "wo.count": "{n} 张",
    "wo.left": "剩 {t}",
    "wo.over": "已超时 {t}",
    "wo.d": "{n} 天",
    "wo.h": "{n} 小时",
    "wo.m": "{n} 分",
    "wo.pending": "待同步：{step}",
    "wo.rejected": "未被接受：{step}",
    "wo.rejected_hint": "服务器没有接受这一步：{reason}。可在“待同步”中重试或删除。",
    "wo.local_raise": "我的报修（待同步）",
    "wo.escalated": "已升级 {n} 级",
    "wo.status.raised": "待派工",
    "wo.status.dispatched": "待接单",
    "wo.status.arranged": "处理中",
    "wo.status.deferred": "暂缓",
    "wo.status.reported": "待核实",
    "wo.status.verified": "已核实",
    "wo.status.closed": "已关闭",
    "wo.source.inspection": "巡检发现",
    "wo.source.manual": "现场报修",
    "wo.source.owner": "业主报修",
    "wo.step.accept": "已接单",
    "wo.step.report": "已汇报完成",
    "wo.step.defer": "暂无法完成",
    "wo.step.resume": "恢复处理",
    "wo.step.sign-off": "业主签字",
    "wo.step.absent": "业主不在家",
    "wo.step.dispatch": "已派工",
    "wo.step.redirect": "已改派",
    "wo.step.verify": "核实通过",
    "wo.step.reject": "已退回",
    "wo.step.close": "已关闭",
    "wo.step.follow-up": "已回访",
    "wo.step.comment": "备注",
    "wo.step.raise": "新工单",
    "wo.event.raise": "报修",
    "wo.event.dispatch": "派工",
    "wo.event.redirect": "改派",
    "wo.event.accept": "接单",
    "wo.event.report": "汇报完成",
    "wo.event.defer": "暂无法完成",
    "wo.event.resume": "恢复处理",
    "wo.event.verify": "核实通过",
    "wo.event.reject": "核实退回",
    "wo.event.close": "关闭",
    "wo.event.sign_off": "业主签字",
    "wo.event.follow_up": "回访",
    "wo.event.comment": "备注",
    "wo.event.escalate": "自动升级",
    "wo.event.merge": "再次发现",
    "wo.system": "系统",
    "wo.checkpoint": "检查点",
    "wo.department": "部门",
    "wo.assignee": "处理人",
    "wo.raised": "报修时间",
    "wo.description": "问题描述",
    "wo.owner": "业主",
    "wo.owner_unit": "房号",
    "wo.owner_phone": "电话",
    "wo.photos": "照片（{n}）",
    "wo.deadlines": "时限",
    "wo.timeline": "处理记录",
    "wo.deadline.dispatch": "派工",
    "wo.deadline.arrange": "接单",
    "wo.deadline.report": "汇报结果",
    "wo.deadline.return": "暂缓后回复",
    "wo.state.on_time": "按时",
    "wo.state.late": "超时完成",
    "wo.state.overdue": "已超时",
    "wo.state.pending": "未到期",
    "wo.due": "截止 {time}",
    "wo.done": "完成 {time}",
    "wo.signed": "业主已签字",
    "wo.absent": "业主不在家",
    "wo.satisfaction": "满意度",
    "wo.sat.satisfied": "满意",
    "wo.sat.acceptable": "基本满意",
    "wo.sat.dissatisfied": "不满意",
    "wo.not_found": "找不到这张工单，或您无权查看",
    "wo.detail_offline_none": "离线：本机没有这张工单的资料。请联网后再打开。",
    "wo.back": "返回工单列表",
    "wo.act.accept": "接单",
    "wo.act.report": "完成汇报",
    "wo.act.defer": "暂无法完成",
    "wo.act.resume": "恢复处理",
    "wo.act.sign": "业主签字",
    "wo.act.absent": "业主不在家",
    "wo.act.dispatch": "派工",
    "wo.act.redirect": "改派",
    "wo.act.verify": "核实通过",
    "wo.act.reject": "退回",
    "wo.act.close": "关闭工单",
    "wo.act.follow_up": "回访",
    "wo.act.comment": "写备注",
    "wo.form.comment": "备注内容（必填）",
    "wo.form.comment_needed": "请写备注内容",
    "wo.form.note": "说明（可选）",
    "wo.form.result": "处理结果（可选）",
    "wo.form.reason": "原因（必填）",
    "wo.form.reason_needed": "请写明原因",
    "wo.form.photo_needed": "请至少拍一张完成后的照片",
    "wo.form.department_needed": "请选择部门",
    "wo.form.sat_needed": "请选择业主的满意度",
    "wo.form.sign_needed": "请业主先签字",
    "wo.form.submit": "提交",
    "wo.form.cancel": "取消",
    "wo.form.saving": "正在保存…",
    "wo.form.take": "拍照",
    "wo.form.gallery": "从相册选",
    "wo.form.photo_remove": "删除照片",
    "wo.form.photo_bad": "无法读取这张照片，请重拍",
    "wo.form.photo_working": "正在处理照片…",
    "wo.saved": "已保存，待同步",
    "wo.save_failed": "保存失败：{reason}",
    "wo.photo_close": "关闭",
    "wo.photo_open": "查看大图",
    "dept.engineering": "工程部",
    "dept.security": "秩序部",
    "dept.cleaning": "保洁绿化部",
    "dept.customer_service": "客服中心",
  },
  en: {
    "wo.title": "Work orders",
    "wo.queue_title": "My work orders",
    "wo.queue_title_desk": "Open work orders",
    "wo.loading": "Loading work orders…",
    "wo.empty": "No open work orders",
    "wo.failed": "Work orders cannot be loaded right now",
    "wo.offline_cached": "Offline, showing data from {time}",
    "wo.offline_none": "Offline: no work orders saved on this phone yet. Open once with network.",
    "wo.raise": "Report a fault",
    "wo.count": "{n}",
    "wo.left": "{t} left",
    "wo.over": "{t} overdue",
    "wo.d": "{n} d",
    "wo.h": "{n} h",
    "wo.m": "{n} min",
    "wo.pending": "To sync: {step}",
    "wo.rejected": "Not accepted: {step}",
    "wo.rejected_hint": "The server did not accept this step: {reason}. Retry or delete it in the outbox.",
    "wo.local_raise": "My reports (to sync)",
    "wo.escalated": "Escalated ×{n}",
    "wo.status.raised": "To dispatch",
    "wo.status.dispatched": "To accept",
    "wo.status.arranged": "In progress",
    "wo.status.deferred": "Deferred",
    "wo.status.reported": "To verify",
    "wo.status.verified": "Verified",
    "wo.status.closed": "Closed",
    "wo.source.inspection": "Inspection",
    "wo.source.manual": "Reported on site",
    "wo.source.owner": "Owner's report",
    "wo.step.accept": "accepted",
    "wo.step.report": "reported done",
    "wo.step.defer": "cannot finish now",
    "wo.step.resume": "resumed",
    "wo.step.sign-off": "owner signed",
    "wo.step.absent": "owner not at home",
    "wo.step.dispatch": "dispatched",
    "wo.step.redirect": "redirected",
    "wo.step.verify": "verified",
    "wo.step.reject": "sent back",
    "wo.step.close": "closed",
    "wo.step.follow-up": "follow-up call",
    "wo.step.comment": "note",
    "wo.step.raise": "new order",
    "wo.event.raise": "Raised",
    "wo.event.dispatch": "Dispatched",
    "wo.event.redirect": "Redirected",
    "wo.event.accept": "Accepted",
    "wo.event.report": "Reported done",
    "wo.event.defer": "Cannot finish now",
    "wo.event.resume": "Resumed",
    "wo.event.verify": "Verified",
    "wo.event.reject": "Sent back",
    "wo.event.close": "Closed",
    "wo.event.sign_off": "Owner sign-off",
    "wo.event.follow_up": "Follow-up call",
    "wo.event.comment": "Comment",
    "wo.event.escalate": "Escalated",
    "wo.event.merge": "Found again",
    "wo.system": "System",
    "wo.checkpoint": "Checkpoint",
    "wo.department": "Department",
    "wo.assignee": "Worker",
    "wo.raised": "Raised",
    "wo.description": "What is wrong",
    "wo.owner": "Owner",
    "wo.owner_unit": "Unit",
    "wo.owner_phone": "Phone",
    "wo.photos": "Photos ({n})",
    "wo.deadlines": "Deadlines",
    "wo.timeline": "History",
    "wo.deadline.dispatch": "Dispatch",
    "wo.deadline.arrange": "Accept",
    "wo.deadline.report": "Report result",
    "wo.deadline.return": "Back after deferral",
    "wo.state.on_time": "On time",
    "wo.state.late": "Done late",
    "wo.state.overdue": "Overdue",
    "wo.state.pending": "Not yet due",
    "wo.due": "due {time}",
    "wo.done": "done {time}",
    "wo.signed": "Owner signed",
    "wo.absent": "Owner not at home",
    "wo.satisfaction": "Satisfaction",
    "wo.sat.satisfied": "Satisfied",
    "wo.sat.acceptable": "Acceptable",
    "wo.sat.dissatisfied": "Dissatisfied",
    "wo.not_found": "This work order does not exist or you may not see it",
    "wo.detail_offline_none": "Offline: this order is not saved on the phone. Open it with network.",
    "wo.back": "Back to the list",
    "wo.act.accept": "Accept",
    "wo.act.report": "Report done",
    "wo.act.defer": "Cannot finish now",
    "wo.act.resume": "Resume",
    "wo.act.sign": "Owner signs",
    "wo.act.absent": "Owner not at home",
    "wo.act.dispatch": "Dispatch",
    "wo.act.redirect": "Redirect",
    "wo.act.verify": "Verify",
    "wo.act.reject": "Send back",
    "wo.act.close": "Close order",
    "wo.act.follow_up": "Follow-up call",
    "wo.act.comment": "Add a note",
    "wo.form.comment": "Note (required)",
    "wo.form.comment_needed": "Write the note",
    "wo.form.note": "Note (optional)",
    "wo.form.result": "What was done (optional)",
    "wo.form.reason": "Reason (required)",
    "wo.form.reason_needed": "Write the reason",
    "wo.form.photo_needed": "Take at least one photo of the result",
    "wo.form.department_needed": "Choose a department",
    "wo.form.sat_needed": "Choose the owner's satisfaction",
    "wo.form.sign_needed": "The owner must sign first",
    "wo.form.submit": "Submit",
    "wo.form.cancel": "Cancel",
    "wo.form.saving": "Saving…",
    "wo.form.take": "Take photo",
    "wo.form.gallery": "From gallery",
    "wo.form.photo_remove": "Remove photo",
    "wo.form.photo_bad": "This photo cannot be read. Take it again",
    "wo.form.photo_working": "Processing the photo…",
    "wo.saved": "Saved, waiting to sync",
    "wo.save_failed": "Not saved: {reason}",
    "wo.photo_close": "Close",
    "wo.photo_open": "Open photo",
    "dept.engineering": "Engineering",
    "dept.security": "Security",
    "dept.cleaning": "Cleaning & landscaping",
    "dept.customer_service": "Customer service",
  },
});

export const DESK_ROLES = new Set(["dispatcher", "manager", "admin"]);
export const DEPARTMENTS = ["engineering", "security", "cleaning", "customer_service"];
const OPEN = new Set(["raised", "dispatched", "arranged", "deferred", "reported", "verified"]);
const SOON_MS = 3600 * 1000;
/** How the status moves when a step is taken (what the screen shows before the server says so). */
const NEXT_STATUS = {
  accept: "arranged", report: "reported", defer: "deferred", resume: "arranged", dispatch: "dispatched",
  redirect: "dispatched", verify: "verified", reject: "dispatched", close: "closed",
};

// ---------------------------------------------------------------------------------------------
// Small helpers

export function departmentName(code) {
  if (!code) return "";
  const key = `dept.${code}`;
  const text = t(key);
  return text === key ? code : text;
}

/** "14:05" (today) or "11-22 14:05". */
export function clock(value, { date = "auto" } = {}) {
  const d = typeof value === "number" ? new Date(value) : new Date(Date.parse(value));
  if (Number.isNaN(d.getTime())) return "";
  const today = new Date().toDateString() === d.toDateString();
  const options = date === "never" || (date === "auto" && today)
    ? { hour: "2-digit", minute: "2-digit", hour12: false }
    : { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false };
  return new Intl.DateTimeFormat(getLang(), options).format(d);
}

/** A time span in words: "1 小时 20 分", "2 天 3 小时", "35 分". */
export function span(ms) {
  const minutes = Math.max(0, Math.floor(Math.abs(ms) / 60000));
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  const parts = [];
  if (days) parts.push(t("wo.d", { n: days }));
  if (hours) parts.push(t("wo.h", { n: hours }));
  if (!days && (mins || !hours)) parts.push(t("wo.m", { n: mins }));
  return parts.join(" ");
}

function dueOf(order) {
  const value = order.due_at ?? order.next_due;
  const ms = value ? Date.parse(value) : NaN;
  return Number.isNaN(ms) ? null : ms;
}

/** {cls, text}: the order's SLA colour and its time left (or over) in words. */
export function slaOf(order, now = Date.now()) {
  const due = dueOf(order);
  if (!OPEN.has(order.status) || order.stale) return { cls: "sla-none", text: "" };
  // Nothing due (waiting for the desk to verify or close): no clock to show.
  if (due === null) return { cls: order.overdue ? "sla-overdue" : "sla-none", text: "" };
  const left = due - now;
  if (left < 0 || order.overdue) {
    return { cls: "sla-overdue", text: left < 0 ? t("wo.over", { t: span(left) }) : t("wo.over", { t: span(0) }) };
  }
  return { cls: left <= SOON_MS ? "sla-soon" : "sla-ok", text: t("wo.left", { t: span(left) }) };
}

function stepLabel(record) {
  if (record.kind === "work_order_raise") return t("wo.step.raise");
  if (record.step === "sign-off" && record.body?.owner_absent) return t("wo.step.absent");
  return t(`wo.step.${record.step}`);
}

/** Unsynced steps of this person by order id ({pending: rows, rejected: rows}). */
async function localSteps(userId) {
  const rows = await store.listWorkOrderRecords(userId).catch(() => []);
  const byOrder = new Map();
  for (const row of rows) {
    if (row.record.kind !== "work_order_step" || row.status === "synced") continue;
    if (!byOrder.has(row.record.order)) byOrder.set(row.record.order, []);
    byOrder.get(row.record.order).push(row);
  }
  return { rows, byOrder };
}

/** The order as it will be once the phone's unsent steps arrive (rejected ones change nothing). */
function applyLocal(order, rows) {
  const out = { ...order };
  for (const row of rows) {
    if (row.status === "rejected") continue;
    const { step, body } = row.record;
    if (NEXT_STATUS[step] && NEXT_STATUS[step] !== out.status) {
      out.status = NEXT_STATUS[step];
      // The server sets the next deadline when the step arrives: until then none is shown.
      out.stale = true;
    }
    if (step === "dispatch" || step === "redirect") out.department = body.department;
    if (step === "sign-off") {
      out.owner_signed = true;
      if (body.owner_absent) out.owner_absent = true;
    }
    if (step === "follow-up") {
      out.followed_up = true;
      out.satisfaction = body.satisfaction;
    }
  }
  return out;
}

function pendingChips(rows) {
  return rows.map((row) => h("span", {
    class: `wo-pending${row.status === "rejected" ? " is-rejected" : ""}`, "data-testid": "wo-pending",
    "data-status": row.status },
  t(row.status === "rejected" ? "wo.rejected" : "wo.pending", { step: stepLabel(row.record) })));
}

function offlineNote(fetchedAt) {
  return h("p", { class: "wo-offline", role: "status", "data-testid": "wo-offline" },
    t("wo.offline_cached", { time: clock(fetchedAt) }));
}

function statusChip(status) {
  return h("span", { class: `wo-status wo-status-${status}`, "data-testid": "wo-status" },
    t(`wo.status.${status}`));
}

/** Re-run `fn` (debounced) while `el` is on screen, whenever the outbox reports a change. */
function onOutbox(el, fn, delay = 300) {
  let timer = null;
  const listener = () => {
    if (!el.isConnected) {
      window.removeEventListener("xunjian:outbox", listener);
      return;
    }
    clearTimeout(timer);
    timer = setTimeout(fn, delay);
  };
  window.addEventListener("xunjian:outbox", listener);
}

// ---------------------------------------------------------------------------------------------
// The queue

/** @param {import("../app.js").Ctx} ctx */
export function renderQueue(ctx) {
  const desk = DESK_ROLES.has(ctx.me.role);
  const note = h("div", { class: "wo-note" });
  const count = h("span", { class: "wo-count", "data-testid": "wo-count" });
  const list = h("div", { class: "wo-list", "data-testid": "wo-list" },
    h("p", { class: "muted" }, t("wo.loading")));
  const screen = h("section", { class: "wo-queue", "data-testid": "wo-queue", "data-source": "loading" },
    h("div", { class: "wo-queue-head" },
      h("h1", { class: "page-title" }, t(desk ? "wo.queue_title_desk" : "wo.queue_title")), count),
    note, list,
    h("div", { class: "wo-bottom" },
      h("a", { class: "btn btn-primary btn-block", href: "/app/work-orders/new", "data-testid": "wo-raise" },
        t("wo.raise"))));

  const siteId = ctx.site?.id ?? null;
  const sort = desk ? "overdue" : "deadline";
  let loading = false;

  async function load() {
    if (loading) return;
    loading = true;
    try {
      let items = null;
      let fetchedAt = null;
      let offline = false;
      try {
        const params = new URLSearchParams({ open: "true", sort, page_size: "200" });
        if (siteId !== null) params.set("site", String(siteId));
        // A department worker's queue is their department's orders (not those they raised elsewhere).
        if (ctx.me.role === "department" && ctx.me.department?.code) params.set("department", ctx.me.department.code);
        const page = await api(`/api/work-orders?${params}`);
        items = (page?.items || []).filter((o) => OPEN.has(o.status));
        await store.putCached("queue", ctx.me.id, siteId, items).catch(() => {});
        prefetch(ctx.me.id, items);
      } catch (error) {
        if (!(error instanceof NetworkError)) {
          console.warn("work orders: list failed", error);
        }
        const cached = await store.getCached("queue", ctx.me.id, siteId).catch(() => null);
        if (cached) {
          items = cached.value;
          fetchedAt = cached.fetched_at;
          offline = error instanceof NetworkError;
        } else {
          screen.dataset.source = "none";
          list.replaceChildren(h("p", { class: "card muted", "data-testid": "wo-failed" },
            error instanceof NetworkError ? t("wo.offline_none")
              : error instanceof ApiError && error.message ? error.message : t("wo.failed")));
          return;
        }
      }
      if (!screen.isConnected) return;
      const { rows, byOrder } = await localSteps(ctx.me.id);
      const shown = items.map((o) => applyLocal(o, byOrder.get(o.id) || []))
        .filter((o) => OPEN.has(o.status) || byOrder.has(o.id));
      sortQueue(shown, desk);
      screen.dataset.source = fetchedAt ? "cache" : "server";
      note.replaceChildren(fetchedAt && offline ? offlineNote(fetchedAt)
        : fetchedAt ? h("p", { class: "muted" }, t("wo.failed")) : "");
      count.textContent = t("wo.count", { n: shown.length });
      const raises = rows.filter((row) => row.record.kind === "work_order_raise" && row.status !== "synced");
      const parts = [];
      if (raises.length) {
        parts.push(h("h2", { class: "section-title" }, t("wo.local_raise")),
          h("ul", { class: "wo-cards" }, raises.map((row) => h("li", null,
            h("a", { class: "wo-card sla-none", href: "/app/outbox", "data-testid": "wo-local-raise" },
              h("p", { class: "wo-card-title" }, row.record.title),
              h("div", { class: "wo-card-meta" }, pendingChips([row])))))));
      }
      parts.push(shown.length
        ? h("ul", { class: "wo-cards" }, shown.map((o) => h("li", null, card(o, byOrder.get(o.id) || []))))
        : h("p", { class: "card muted", "data-testid": "wo-empty" }, t("wo.empty")));
      list.replaceChildren(...parts);
    } finally {
      loading = false;
    }
  }

  load().catch((error) => console.error("work orders failed", error));
  onOutbox(screen, load, 500);
  // Time left changes while the screen is open.
  const tick = setInterval(() => {
    if (!screen.isConnected) clearInterval(tick);
    else for (const el of screen.querySelectorAll("[data-due]")) refreshLeft(el);
  }, 30_000);
  return screen;
}

/** Orders of the queue whose details are fetched ahead, so they open offline too. */
const PREFETCH_MAX = 30;
const PREFETCH_EVERY_MS = 5 * 60_000;
let prefetched = { at: 0, key: "" };

/** Keep each queued order's detail on the phone (in the background, one request at a time). */
async function prefetch(userId, items) {
  const wanted = items.slice(0, PREFETCH_MAX);
  const key = `${userId}:${wanted.map((o) => o.id).join(",")}`;
  if (key === prefetched.key && Date.now() - prefetched.at < PREFETCH_EVERY_MS) return;
  prefetched = { at: Date.now(), key };
  for (const summary of wanted) {
    try {
      const cached = await store.getCached("order", userId, summary.id);
      // Still current: nothing moved on the server since it was kept.
      if (cached && cached.value.status === summary.status && Date.now() - cached.fetched_at < PREFETCH_EVERY_MS) continue;
      const order = await api(`/api/work-orders/${summary.id}`);
      await store.putCached("order", userId, summary.id, order);
    } catch (error) {
      if (error instanceof NetworkError) return;
    }
  }
}

function sortQueue(orders, desk) {
  const key = (o) => dueOf(o) ?? Number.POSITIVE_INFINITY;
  orders.sort((a, b) => {
    if (desk && Boolean(a.overdue) !== Boolean(b.overdue)) return a.overdue ? -1 : 1;
    return key(a) - key(b) || b.id - a.id;
  });
}

function refreshLeft(el) {
  const order = JSON.parse(el.dataset.due);
  const sla = slaOf(order);
  el.textContent = sla.text;
  const cardEl = el.closest(".wo-card");
  if (cardEl) cardEl.className = `wo-card ${sla.cls}`;
}

function card(order, rows) {
  const sla = slaOf(order);
  const where = order.checkpoint ? `${order.checkpoint.name || ""} ${order.checkpoint.code || ""}`.trim() : "";
  return h("a", { class: `wo-card ${sla.cls}`, href: `/app/work-orders/${order.id}`,
    "data-testid": "wo-card", "data-id": String(order.id), "data-sla": sla.cls },
  h("div", { class: "wo-card-top" },
    h("p", { class: "wo-card-title", "data-testid": "wo-card-title" }, order.title),
    statusChip(order.status)),
  where ? h("p", { class: "wo-card-where" }, where) : null,
  h("div", { class: "wo-card-meta" },
    sla.text ? h("strong", { class: "wo-left", "data-testid": "wo-left",
      "data-due": JSON.stringify({ due_at: order.due_at ?? order.next_due ?? null, status: order.status,
        overdue: order.overdue }) }, sla.text) : null,
    order.department ? h("span", null, departmentName(order.department)) : null,
    order.source === "owner" ? h("span", null, t("wo.source.owner")) : null,
    order.escalation_level ? h("span", { class: "wo-escalated" }, t("wo.escalated", { n: order.escalation_level })) : null),
  rows.length ? h("div", { class: "wo-card-meta" }, pendingChips(rows)) : null);
}

// ---------------------------------------------------------------------------------------------
// One order

/** Photo refs of the order: raise/report/event photos and the signature, once each. */
function photosOf(order) {
  const seen = new Map();
  const add = (p) => {
    if (p && p.sha256 && !seen.has(p.sha256)) seen.set(p.sha256, p);
  };
  for (const report of order.reports || []) for (const p of report.photos || []) add(p);
  for (const event of order.events || []) for (const p of event.photos || []) add(p);
  for (const p of order.photos || []) add(p);
  if (order.signature) add(order.signature);
  return [...seen.values()];
}

function thumbUrl(ref) {
  return ref.thumb_url || `/api/photos/${ref.sha256}/thumb`;
}

function fullUrl(ref) {
  return ref.url || `/api/photos/${ref.sha256}`;
}

/** Full-screen photo; tap anywhere (or the button) to close. */
function openPhoto(src) {
  const close = () => viewer.remove();
  const viewer = h("div", { class: "wo-viewer", role: "dialog", "aria-modal": "true",
    "data-testid": "wo-viewer", onclick: close },
  h("img", { src, alt: "" }),
  h("button", { type: "button", class: "btn btn-primary wo-viewer-close", "data-testid": "wo-viewer-close",
    onclick: close }, t("wo.photo_close")));
  document.body.append(viewer);
}

function thumb(ref, src, full) {
  return h("button", { type: "button", class: "wo-thumb", "aria-label": t("wo.photo_open"),
    "data-testid": "wo-photo", "data-sha256": ref.sha256, onclick: () => openPhoto(full) },
  h("img", { src, alt: "", loading: "lazy" }));
}

/** @param {import("../app.js").Ctx} ctx */
export function renderDetail(ctx) {
  const orderId = Number(ctx.params.id);
  const screen = h("section", { class: "wo-detail", "data-testid": "wo-detail", "data-id": String(orderId),
    "data-source": "loading" }, h("p", { class: "muted" }, t("wo.loading")));
  /** Which action's form is open (kept across redraws). */
  const view = { open: null, order: null, fetchedAt: null, stamp: 0, offline: false, urls: [] };

  async function fetchOrder() {
    try {
      const stamp = Date.now();
      const order = await api(`/api/work-orders/${orderId}`);
      await store.putCached("order", ctx.me.id, orderId, order).catch(() => {});
      view.order = order;
      view.stamp = stamp;
      view.fetchedAt = null;
      view.offline = false;
    } catch (error) {
      const cached = await store.getCached("order", ctx.me.id, orderId).catch(() => null);
      if (error instanceof NetworkError && cached) {
        view.order = cached.value;
        view.fetchedAt = cached.fetched_at;
        view.stamp = cached.fetched_at;
        view.offline = true;
      } else if (error instanceof NetworkError) {
        // The queue's copy at least says what it is.
        const queue = await store.getCached("queue", ctx.me.id, ctx.site?.id ?? null).catch(() => null);
        const summary = queue?.value?.find((o) => o.id === orderId);
        if (summary) {
          view.order = { ...summary, events: [], reports: [], deadlines: [] };
          view.fetchedAt = queue.fetched_at;
          view.offline = true;
        } else {
          screen.dataset.source = "none";
          screen.replaceChildren(h("p", { class: "card muted", "data-testid": "wo-failed" }, t("wo.detail_offline_none")),
            backLink());
          return false;
        }
      } else {
        screen.dataset.source = "none";
        screen.replaceChildren(h("p", { class: "form-error", role: "alert", "data-testid": "wo-failed" },
          error instanceof ApiError && error.status === 404 ? t("wo.not_found")
            : error instanceof ApiError && error.message ? error.message : t("wo.failed")), backLink());
        return false;
      }
    }
    return true;
  }

  async function draw() {
    if (!view.order) return;
    const { byOrder } = await localSteps(ctx.me.id);
    const rows = byOrder.get(orderId) || [];
    // A step just synced: the phone's copy is now the server's answer to it (sync.js keeps it).
    const cached = await store.getCached("order", ctx.me.id, orderId).catch(() => null);
    if (cached && cached.value && cached.value.id === orderId && cached.fetched_at > view.stamp) {
      view.order = cached.value;
      view.stamp = cached.fetched_at;
      view.offline = false;
    }
    for (const url of view.urls) URL.revokeObjectURL(url);
    view.urls = [];
    const order = applyLocal(view.order, rows);
    screen.dataset.source = view.offline ? "cache" : "server";
    screen.dataset.status = order.status;
    screen.replaceChildren(...await detailParts(ctx, order, rows, view, draw));
  }

  fetchOrder().then((ok) => (ok ? draw() : null))
    .catch((error) => console.error("work order failed", error));
  // Not while a form is open: what the person typed, photographed or signed stays as it is.
  onOutbox(screen, () => (view.open ? null : draw().catch(() => {})), 300);
  return screen;
}

function backLink() {
  return h("a", { class: "btn btn-block wo-back", href: "/app/work-orders", "data-testid": "wo-back" }, t("wo.back"));
}

async function localPhotoUrl(sha, view) {
  const blob = await store.getPhotoBlob(sha).catch(() => undefined);
  if (!blob) return null;
  const url = URL.createObjectURL(blob);
  view.urls.push(url);
  return url;
}

async function detailParts(ctx, order, rows, view, redraw) {
  const sla = slaOf(order);
  const parts = [];
  parts.push(h("div", { class: `card wo-head ${sla.cls}` },
    h("div", { class: "wo-card-top" },
      h("h1", { class: "wo-detail-title", "data-testid": "wo-title" }, order.title), statusChip(order.status)),
    sla.text ? h("p", { class: "wo-left wo-left-big", "data-testid": "wo-left" }, sla.text) : null,
    h("dl", { class: "wo-facts" },
      order.checkpoint ? [h("dt", null, t("wo.checkpoint")),
        h("dd", { "data-testid": "wo-checkpoint" }, `${order.checkpoint.name || ""} ${order.checkpoint.code || ""}`.trim())] : null,
      order.department ? [h("dt", null, t("wo.department")), h("dd", { "data-testid": "wo-department" }, departmentName(order.department))] : null,
      order.assignee ? [h("dt", null, t("wo.assignee")), h("dd", null, order.assignee.display_name)] : null,
      h("dt", null, t("wo.raised")), h("dd", null, `${clock(order.raised_at, { date: "always" })} · ${t(`wo.source.${order.source}`)}`),
      order.escalation_level ? [h("dt", null, ""), h("dd", { class: "wo-escalated" }, t("wo.escalated", { n: order.escalation_level }))] : null),
    rows.length ? h("div", { class: "wo-card-meta" }, pendingChips(rows)) : null,
    view.offline ? offlineNote(view.fetchedAt) : null));

  for (const row of rows.filter((r) => r.status === "rejected")) {
    parts.push(h("p", { class: "form-error", role: "alert", "data-testid": "wo-rejected" },
      t("wo.rejected_hint", { reason: row.reason || row.code || "" }), " ",
      h("a", { href: "/app/outbox" }, t("outbox.title"))));
  }

  if (order.description && order.description.trim() !== order.title.trim()) {
    parts.push(h("div", { class: "card wo-section" },
      h("h2", { class: "wo-section-title" }, t("wo.description")),
      h("p", { class: "wo-description", "data-testid": "wo-description" }, order.description)));
  }

  if (order.owner) {
    parts.push(h("div", { class: "card wo-section", "data-testid": "wo-owner" },
      h("h2", { class: "wo-section-title" }, t("wo.owner")),
      h("dl", { class: "wo-facts" },
        h("dt", null, t("wo.owner")), h("dd", null, order.owner.name || ""),
        h("dt", null, t("wo.owner_unit")), h("dd", null, order.owner.unit || ""),
        order.owner.phone ? [h("dt", null, t("wo.owner_phone")),
          h("dd", null, /^[\d+\-\s]+$/.test(order.owner.phone)
            ? h("a", { href: `tel:${order.owner.phone.replace(/\s/g, "")}` }, order.owner.phone)
            : order.owner.phone)] : null),
      order.owner_signed || order.owner_absent
        ? h("p", { class: "wo-signed" }, t(order.owner_absent ? "wo.absent" : "wo.signed")) : null,
      order.satisfaction ? h("p", null, `${t("wo.satisfaction")}：${t(`wo.sat.${order.satisfaction}`)}`) : null));
  }

  const photos = photosOf(order);
  if (photos.length) {
    parts.push(h("div", { class: "card wo-section" },
      h("h2", { class: "wo-section-title" }, t("wo.photos", { n: photos.length })),
      h("div", { class: "wo-thumbs", "data-testid": "wo-photos" },
        photos.map((p) => thumb(p, thumbUrl(p), fullUrl(p))))));
  }

  if ((order.deadlines || []).length) {
    parts.push(h("div", { class: "card wo-section" },
      h("h2", { class: "wo-section-title" }, t("wo.deadlines")),
      h("ul", { class: "wo-deadlines", "data-testid": "wo-deadlines" }, order.deadlines.map((d) => h("li", {
        class: `wo-deadline is-${d.state}`, "data-step": d.step },
      h("span", { class: "wo-deadline-step" }, t(`wo.deadline.${d.step}`)),
      h("span", { class: "wo-deadline-time" }, d.done_at ? t("wo.done", { time: clock(d.done_at) }) : t("wo.due", { time: clock(d.due) })),
      h("span", { class: `wo-state wo-state-${d.state}` }, t(`wo.state.${d.state}`),
        d.breach_seconds ? ` ${span(d.breach_seconds * 1000)}` : ""))))));
  }

  // The timeline: the server's events, then this phone's unsent steps.
  const events = [];
  for (const e of order.events || []) {
    events.push(h("li", { class: "wo-event", "data-testid": "wo-event", "data-action": e.action },
      h("p", { class: "wo-event-head" },
        h("strong", null, t(`wo.event.${e.action}`) !== `wo.event.${e.action}` ? t(`wo.event.${e.action}`) : e.action),
        " ", h("span", null, e.actor ? e.actor.display_name : t("wo.system")),
        " ", h("span", { class: "muted" }, clock(e.device_time, { date: "always" }))),
      e.department && (e.action === "dispatch" || e.action === "redirect")
        ? h("p", { class: "muted" }, departmentName(e.department)) : null,
      e.note ? h("p", { class: "wo-event-note" }, e.note) : null,
      (e.photos || []).length ? h("div", { class: "wo-thumbs" }, e.photos.map((p) => thumb(p, thumbUrl(p), fullUrl(p)))) : null));
  }
  for (const row of rows) {
    const body = row.record.body || {};
    const local = [];
    for (const sha of store.photoHashes(row.record)) {
      const url = await localPhotoUrl(sha, view);
      if (url) local.push(thumb({ sha256: sha }, url, url));
    }
    events.push(h("li", { class: `wo-event is-local is-${row.status}`, "data-testid": "wo-event-local",
      "data-step": row.record.step },
    h("p", { class: "wo-event-head" }, pendingChips([row]), " ",
      h("span", { class: "muted" }, clock(row.record.device_time, { date: "always" }))),
    body.note ? h("p", { class: "wo-event-note" }, body.note) : null,
    body.department ? h("p", { class: "muted" }, departmentName(body.department)) : null,
    body.satisfaction ? h("p", null, t(`wo.sat.${body.satisfaction}`)) : null,
    local.length ? h("div", { class: "wo-thumbs" }, local) : null));
  }
  if (events.length) {
    parts.push(h("div", { class: "card wo-section" },
      h("h2", { class: "wo-section-title" }, t("wo.timeline")),
      h("ol", { class: "wo-timeline", "data-testid": "wo-timeline" }, events)));
  }

  parts.push(actionsPanel(ctx, order, view, redraw));
  return parts;
}

// ---------------------------------------------------------------------------------------------
// Steps

/** The steps this person may take on the order as it stands (after the phone's unsent steps). */
export function actionsFor(me, order) {
  const out = [];
  const s = order.status;
  const mine = me.role === "department" && me.department?.code === order.department;
  if (mine) {
    if (s === "dispatched") out.push("accept");
    if (s === "arranged" || s === "deferred") out.push("report");
    if (s === "deferred") out.push("resume");
    if (s === "dispatched" || s === "arranged") out.push("defer");
    if (order.source === "owner" && !order.owner_signed && ["arranged", "deferred", "reported"].includes(s)) {
      out.push("sign", "absent");
    }
  }
  if (DESK_ROLES.has(me.role)) {
    if (s === "raised") out.push("dispatch");
    if (s === "dispatched") out.push("redirect");
    if (s === "reported") out.push("verify", "reject");
    if (s === "verified") {
      const ownerReady = order.source !== "owner" || (order.owner_signed && order.followed_up);
      if (ownerReady) out.push("close");
      if (!order.followed_up) out.push("follow_up");
    }
  }
  // Anyone who sees an open order may add a note to it (a patrol saw it again, a part is on order).
  if (OPEN.has(s)) out.push("comment");
  return out;
}

const PRIMARY = new Set(["accept", "report", "dispatch", "verify", "close", "sign"]);
/** One tap, no form. */
const DIRECT = new Set(["accept", "resume", "verify", "close"]);
const API_STEP = { follow_up: "follow-up", sign: "sign-off", absent: "sign-off" };

async function queueStep(ctx, order, action, body, photos = []) {
  const id = store.newId();
  const deviceTime = store.localTimestamp();
  const record = {
    id, kind: "work_order_step", order: order.id, step: API_STEP[action] || action, title: order.title,
    device_time: deviceTime, body: { ...body, client_id: id, device_time: deviceTime },
  };
  await store.saveRecord(record, photos, { userId: ctx.me.id });
}

function actionsPanel(ctx, order, view, redraw) {
  const actions = actionsFor(ctx.me, order);
  const panel = h("div", { class: "wo-actions", "data-testid": "wo-actions" });
  if (!actions.length) return panel;
  if (view.open && !actions.includes(view.open)) view.open = null;

  async function submit(action, body, photos, button) {
    button.disabled = true;
    button.textContent = t("wo.form.saving");
    try {
      await queueStep(ctx, order, action, body, photos);
    } catch (error) {
      console.error("work order: step not saved", error);
      button.disabled = false;
      button.textContent = t("wo.form.submit");
      toast(t("wo.save_failed", { reason: error instanceof Error ? error.message : "" }));
      return false;
    }
    view.open = null;
    toast(t("wo.saved"));
    await redraw();
    return true;
  }

  if (view.open) {
    panel.append(actionForm(ctx, order, view.open, submit, () => {
      view.open = null;
      redraw();
    }));
    return panel;
  }
  panel.append(h("div", { class: "wo-buttons" }, actions.map((action) => h("button", {
    type: "button", class: `btn btn-block ${PRIMARY.has(action) ? "btn-primary" : "wo-btn-secondary"}`,
    "data-testid": `wo-act-${action}`,
    onclick: async (event) => {
      if (DIRECT.has(action)) {
        await submit(action, { note: "" }, [], event.currentTarget);
        return;
      }
      view.open = action;
      await redraw();
      document.querySelector(".wo-form")?.scrollIntoView({ block: "start", behavior: "smooth" });
    } }, t(`wo.act.${action}`)))));
  return panel;
}

/** A form for a step that needs more than a tap. */
function actionForm(ctx, order, action, submit, cancel) {
  const error = h("p", { class: "form-error", role: "alert", hidden: true, "data-testid": "wo-form-error" });
  const fail = (key) => {
    error.textContent = t(key);
    error.hidden = false;
  };
  const needsReason = action === "defer" || action === "reject";
  const noteLabel = needsReason ? "wo.form.reason" : action === "report" ? "wo.form.result"
    : action === "comment" ? "wo.form.comment" : "wo.form.note";
  // A message goes as soon as the person does something about it.
  const note = h("textarea", { class: "input wo-textarea", id: "wo-form-note", rows: "3",
    "data-testid": "wo-form-note", oninput: () => { error.hidden = true; } });
  const fields = [];
  let photoInput = null;
  let department = null;
  let satisfaction = null;
  let pad = null;

  if (action === "dispatch" || action === "redirect") {
    const choices = DEPARTMENTS.filter((code) => action !== "redirect" || code !== order.department);
    const buttons = choices.map((code) => h("button", { type: "button", class: "btn wo-choice", "aria-pressed": "false",
      "data-testid": `wo-dept-${code}`, onclick: () => {
        department = code;
        error.hidden = true;
        for (const b of buttons) b.setAttribute("aria-pressed", String(b === buttonsByCode.get(code)));
      } }, departmentName(code)));
    const buttonsByCode = new Map(choices.map((code, i) => [code, buttons[i]]));
    fields.push(h("p", { class: "field-label" }, t("wo.department")),
      h("div", { class: "wo-choices", role: "group", "aria-label": t("wo.department") }, buttons));
  }
  if (action === "follow_up") {
    const levels = ["satisfied", "acceptable", "dissatisfied"];
    const buttons = levels.map((level) => h("button", { type: "button", class: `btn wo-choice wo-sat-${level}`,
      "aria-pressed": "false", "data-testid": `wo-sat-${level}`, onclick: (event) => {
        satisfaction = level;
        error.hidden = true;
        for (const b of buttons) b.setAttribute("aria-pressed", String(b === event.currentTarget));
      } }, t(`wo.sat.${level}`)));
    fields.push(h("p", { class: "field-label" }, t("wo.satisfaction")),
      h("div", { class: "wo-choices", role: "group", "aria-label": t("wo.satisfaction") }, buttons));
  }
  if (action === "sign") {
    pad = signaturePad({ onChange: () => { if (!pad?.isEmpty()) error.hidden = true; } });
    fields.push(pad.el);
  }
  if (action === "report") {
    photoInput = photoField({ testid: "wo-form", onStart: () => { error.hidden = true; },
      onProblem: (key) => fail(key) });
    fields.push(photoInput.el);
  }

  const submitButton = h("button", { type: "button", class: "btn btn-primary btn-block", "data-testid": "wo-form-submit",
    onclick: async () => {
      error.hidden = true;
      const text = note.value.trim();
      if (photoInput?.busy()) return;
      if (needsReason && !text) return fail("wo.form.reason_needed");
      if (action === "comment" && !text) return fail("wo.form.comment_needed");
      if ((action === "dispatch" || action === "redirect") && !department) return fail("wo.form.department_needed");
      if (action === "follow_up" && !satisfaction) return fail("wo.form.sat_needed");
      if (action === "report" && !photoInput.photos.length) return fail("wo.form.photo_needed");
      if (action === "sign" && pad.isEmpty()) return fail("wo.form.sign_needed");
      const body = { note: text };
      let files = [];
      if (department) body.department = department;
      if (satisfaction) body.satisfaction = satisfaction;
      if (action === "report") {
        body.photos = photoInput.photos.map((p) => p.sha256);
        files = photoInput.photos;
      }
      if (action === "absent") body.owner_absent = true;
      if (action === "sign") {
        const signature = await pad.toPhoto();
        body.signature = signature.sha256;
        files = [signature];
      }
      // The thumbnails' object URLs are freed once the step is in the outbox (kept on a failure,
      // when the form stays open).
      if (await submit(action, body, files, submitButton)) photoInput?.release();
    } }, t("wo.form.submit"));

  return h("div", { class: "card wo-form", "data-testid": `wo-form-${action}` },
    h("h2", { class: "wo-section-title" }, t(`wo.act.${action}`)),
    fields,
    h("div", { class: "field" }, h("label", { class: "field-label", for: "wo-form-note" }, t(noteLabel)), note),
    error,
    h("div", { class: "wo-form-buttons" },
      h("button", { type: "button", class: "btn wo-btn-secondary", "data-testid": "wo-form-cancel", onclick: cancel },
        t("wo.form.cancel")),
      submitButton));
}
