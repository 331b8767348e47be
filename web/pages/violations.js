// Violations (违章) and rectification notices (整改通知): the site's list (/app/violations, filtered
// by status and permit in the URL) and one notice (/app/violations/<id>).
//
// - The list: newest first, each card with the item, the unit, 重大/一般, and the time left to the
//   deadline or how long it is overdue. Status chips (未整改 / 已整改 / 已撤销 / 全部) change the URL.
// - The notice: printable on A4 (@media print hides the app's bars and buttons): unit, owner,
//   contractor, item, grade, found by / when, deadline, the work order, the photos of the check that
//   found it, the re-inspection, signature lines. A re-inspection is a big pass / fail button pair;
//   the manager may cancel with a reason. Both are queued in the outbox (store.queueRequest) with a
//   client_id, so they work offline and reach the server exactly once.
// - Offline: the list and every notice opened are kept on the phone (store.putCached) and shown from
//   there with the time they were fetched.

import { api, ApiError, NetworkError } from "../api.js";
import { h } from "../dom.js";
import { addStrings, getLang, t } from "../i18n.js";
import { photoField } from "../photo_field.js";
import * as store from "../store.js";
import { queueAndSend } from "../sync.js";

addStrings({
  "zh-CN": {
    "vio.title": "违章整改",
    "tile.violations": "违章整改",
    "vio.notice_title": "整改通知书",
    "vio.loading": "正在加载违章记录…",
    "vio.failed": "违章记录暂时无法加载",
    "vio.empty": "没有符合条件的违章记录",
    "vio.offline_cached": "离线，显示 {time} 的数据",
    "vio.offline_none": "离线：本机还没有保存这些记录。请联网后打开一次。",
    "vio.not_found": "找不到这条违章记录，或您无权查看",
    "vio.count": "{n} 条",
    "vio.filter.open": "未整改",
    "vio.filter.rectified": "已整改",
    "vio.filter.cancelled": "已撤销",
    "vio.filter.all": "全部",
    "vio.permit_filter": "装修许可 #{id}",
    "vio.clear_permit": "看全部单元",
    "vio.status.open": "未整改",
    "vio.status.rectified": "已整改",
    "vio.status.cancelled": "已撤销",
    "vio.grade.major": "重大",
    "vio.grade.general": "一般",
    "vio.left": "剩 {t}",
    "vio.overdue": "已超期 {t}",
    "vio.d": "{n} 天",
    "vio.h": "{n} 小时",
    "vio.m": "{n} 分",
    "vio.no": "编号",
    "vio.unit": "房号",
    "vio.owner": "业主",
    "vio.contractor": "施工单位",
    "vio.item": "违章事项",
    "vio.grade": "等级",
    "vio.found": "发现",
    "vio.found_by": "{who}（{dept}）于 {time}",
    "vio.deadline": "整改期限",
    "vio.deadline_text": "请于 {time} 前整改完毕",
    "vio.work_order": "处理工单",
    "vio.work_order_text": "#{id} · {status}",
    "vio.note": "现场说明",
    "vio.photos": "现场照片",
    "vio.reinspection": "复查",
    "vio.reinspected": "{who} 于 {time} 复查合格",
    "vio.reinspected_check": "（巡检记录）",
    "vio.events": "记录",
    "vio.event.found": "发现",
    "vio.event.seen": "再次发现",
    "vio.event.rectified": "巡检复查合格",
    "vio.event.reinspect_pass": "复查合格",
    "vio.event.reinspect_fail": "复查不合格",
    "vio.event.cancel": "撤销",
    "vio.sign_owner": "业主 / 施工单位签收：",
    "vio.sign_office": "管理处（盖章）：",
    "vio.sign_date": "日期：",
    "vio.print": "打印整改通知书",
    "vio.back": "返回违章列表",
    "vio.open_permit": "查看装修许可",
    "vio.reinspect_title": "现场复查",
    "vio.reinspect_note": "复查说明（可选）",
    "vio.pass": "已整改",
    "vio.fail": "未整改",
    "vio.cancel": "撤销此违章",
    "vio.cancel_reason": "撤销原因（必填）",
    "vio.cancel_needed": "请写明撤销原因",
    "vio.cancel_confirm": "确认撤销",
    "vio.pending": "待同步：{what}",
    "vio.rejected": "未被接受：{what}（{reason}）",
  },
  en: {
    "vio.title": "Violations",
    "tile.violations": "Violations",
    "vio.notice_title": "Rectification notice",
    "vio.loading": "Loading violations…",
    "vio.failed": "Violations cannot be loaded right now",
    "vio.empty": "No violations match",
    "vio.offline_cached": "Offline, showing data from {time}",
    "vio.offline_none": "Offline: nothing saved on this phone yet. Open it once while online.",
    "vio.not_found": "This violation does not exist or you may not see it",
    "vio.count": "{n}",
    "vio.filter.open": "Open",
    "vio.filter.rectified": "Rectified",
    "vio.filter.cancelled": "Cancelled",
    "vio.filter.all": "All",
    "vio.permit_filter": "Renovation permit #{id}",
    "vio.clear_permit": "All units",
    "vio.status.open": "Open",
    "vio.status.rectified": "Rectified",
    "vio.status.cancelled": "Cancelled",
    "vio.grade.major": "Major",
    "vio.grade.general": "General",
    "vio.left": "{t} left",
    "vio.overdue": "Overdue {t}",
    "vio.d": "{n} d",
    "vio.h": "{n} h",
    "vio.m": "{n} min",
    "vio.no": "No.",
    "vio.unit": "Unit",
    "vio.owner": "Owner",
    "vio.contractor": "Contractor",
    "vio.item": "Violation",
    "vio.grade": "Grade",
    "vio.found": "Found",
    "vio.found_by": "{who} ({dept}) at {time}",
    "vio.deadline": "Rectify by",
    "vio.deadline_text": "Rectify before {time}",
    "vio.work_order": "Work order",
    "vio.work_order_text": "#{id} · {status}",
    "vio.note": "Note",
    "vio.photos": "Photos",
    "vio.reinspection": "Re-inspection",
    "vio.reinspected": "Passed by {who} at {time}",
    "vio.reinspected_check": " (inspection)",
    "vio.events": "History",
    "vio.event.found": "Found",
    "vio.event.seen": "Seen again",
    "vio.event.rectified": "Passed on inspection",
    "vio.event.reinspect_pass": "Re-inspection passed",
    "vio.event.reinspect_fail": "Re-inspection failed",
    "vio.event.cancel": "Cancelled",
    "vio.sign_owner": "Received by owner / contractor:",
    "vio.sign_office": "Management office (stamp):",
    "vio.sign_date": "Date:",
    "vio.print": "Print the notice",
    "vio.back": "Back to violations",
    "vio.open_permit": "Open the permit",
    "vio.reinspect_title": "Re-inspect on site",
    "vio.reinspect_note": "Note (optional)",
    "vio.pass": "Rectified",
    "vio.fail": "Not yet",
    "vio.cancel": "Cancel this violation",
    "vio.cancel_reason": "Reason (required)",
    "vio.cancel_needed": "Please give the reason",
    "vio.cancel_confirm": "Confirm cancel",
    "vio.pending": "Waiting to sync: {what}",
    "vio.rejected": "Not accepted: {what} ({reason})",
  },
});

const DESK_ROLES = new Set(["dispatcher", "manager", "admin"]);
const MANAGER_ROLES = new Set(["manager", "admin"]);
const STAFF_ROLES = new Set(["department", "inspector", "dispatcher"]);
const FILTERS = ["open", "rectified", "cancelled", "all"];
const WO_STATUS = {
  "zh-CN": { raised: "待派工", dispatched: "待接单", arranged: "处理中", deferred: "暂缓", reported: "待核实",
    verified: "已核实", closed: "已关闭" },
  en: { raised: "Raised", dispatched: "Dispatched", arranged: "In hand", deferred: "Deferred",
    reported: "Reported", verified: "Verified", closed: "Closed" },
};

// ---------------------------------------------------------------------------------------------
// Small helpers

/** The time zone clocks are shown in: the site's (a phone on another zone shows the site's time). */
let zone = "Asia/Shanghai";

function useSiteZone(ctx, siteId) {
  const site = (ctx.me?.sites || []).find((s) => s.id === siteId) || ctx.site;
  zone = site?.timezone || "Asia/Shanghai";
}

/** "2026-11-24 09:15" in the site's time zone. */
function clock(value) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  let parts;
  try {
    parts = new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(date);
  } catch {
    parts = new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(date);
  }
  const get = (type) => parts.find((p) => p.type === type)?.value || "";
  return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}`;
}

function span(ms) {
  const minutes = Math.max(1, Math.round(Math.abs(ms) / 60000));
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  if (days) return [t("vio.d", { n: days }), hours ? t("vio.h", { n: hours }) : ""].join(" ").trim();
  if (hours) return [t("vio.h", { n: hours }), minutes % 60 ? t("vio.m", { n: minutes % 60 }) : ""].join(" ").trim();
  return t("vio.m", { n: minutes });
}

/** "剩 2 天 3 小时" / "已超期 5 小时" for an open violation; "" otherwise. */
export function timeLeft(v, now = Date.now()) {
  if (v.status !== "open" || !v.deadline) return "";
  const ms = new Date(v.deadline).getTime() - now;
  return ms >= 0 ? t("vio.left", { t: span(ms) }) : t("vio.overdue", { t: span(ms) });
}

function isOverdue(v, now = Date.now()) {
  return v.status === "open" && v.deadline && new Date(v.deadline).getTime() < now;
}

function unitText(v) {
  const unit = v.unit || {};
  return `${unit.building || ""}${unit.number || ""}` || v.checkpoint?.name || v.checkpoint?.code || "";
}

function departmentText(dept) {
  if (!dept) return "";
  return getLang() === "en" ? dept.name_en || dept.code : dept.name_zh || dept.code;
}

function gradeChip(grade) {
  return h("span", { class: `vio-grade vio-grade-${grade}`, "data-testid": "vio-grade", "data-grade": grade },
    t(`vio.grade.${grade}`));
}

function statusChip(status) {
  return h("span", { class: `vio-status vio-status-${status}`, "data-testid": "vio-status", "data-status": status },
    t(`vio.status.${status}`));
}

function offlineNote(fetchedAt) {
  return h("p", { class: "notice notice-offline vio-cached", "data-testid": "vio-cached" },
    t("vio.offline_cached", { time: clock(fetchedAt) }));
}

function failure(error) {
  if (error instanceof NetworkError) return t("vio.offline_none");
  if (error instanceof ApiError && error.status === 404) return t("vio.not_found");
  return error instanceof ApiError && error.message ? error.message : t("vio.failed");
}

/** Read from the server and keep a copy; offline (or on a server error), the kept copy. */
async function fetchKept(kind, userId, key, path) {
  try {
    const value = await api(path);
    await store.putCached(kind, userId, key, value).catch(() => {});
    return { value, fetchedAt: null };
  } catch (error) {
    if (error instanceof ApiError && error.status < 500) throw error;
    const kept = await store.getCached(kind, userId, key).catch(() => null);
    if (!kept) throw error;
    return { value: kept.value, fetchedAt: kept.fetched_at, error };
  }
}

/**
 * Call `fn` when a request of `group` reached the server, or when the outbox changed while
 * `waiting()` (a request of the notice not yet sent: it may have been refused meanwhile). Not on
 * every outbox change: a redraw would drop a note being typed.
 */
function redrawOnSync(el, group, waiting, fn) {
  const handler = (event) => {
    if (!el.isConnected) {
      window.removeEventListener("xunjian:request-synced", handler);
      window.removeEventListener("xunjian:outbox", handler);
      return;
    }
    if (event.type === "xunjian:request-synced" ? event.detail?.group === group : waiting()) fn();
  };
  window.addEventListener("xunjian:request-synced", handler);
  window.addEventListener("xunjian:outbox", handler);
}

// ---------------------------------------------------------------------------------------------
// The list

export function renderList(ctx) {
  const search = new URLSearchParams(location.search);
  const status = FILTERS.includes(search.get("status") || "") ? search.get("status") : "open";
  const permit = /^\d+$/.test(search.get("permit") || "") ? search.get("permit") : null;
  const siteId = ctx.site?.id ?? null;
  useSiteZone(ctx, siteId);

  const go = (changes) => {
    const params = new URLSearchParams(location.search);
    for (const [key, value] of Object.entries(changes)) {
      if (value === null) params.delete(key);
      else params.set(key, value);
    }
    const query = params.toString();
    ctx.navigate(`/app/violations${query ? `?${query}` : ""}`, { replace: true });
  };

  const count = h("span", { class: "vio-count", "data-testid": "vio-count" });
  const note = h("div");
  const list = h("div", { class: "vio-list", "data-testid": "vio-list" }, h("p", { class: "muted" }, t("vio.loading")));
  const screen = h("section", { class: "vio-screen", "data-testid": "vio-screen", "data-source": "loading" },
    h("div", { class: "vio-head" }, h("h1", { class: "page-title" }, t("vio.title")), count),
    h("div", { class: "vio-filters", role: "group", "aria-label": t("vio.title") },
      FILTERS.map((f) => h("button", {
        type: "button", class: "btn vio-filter", "aria-pressed": String(f === status),
        "data-testid": `vio-filter-${f}`, onclick: () => go({ status: f === "open" ? null : f }),
      }, t(`vio.filter.${f}`)))),
    permit ? h("p", { class: "vio-permit-filter" },
      h("span", null, t("vio.permit_filter", { id: permit })),
      h("a", { href: `/app/renovations/${permit}`, class: "btn btn-small btn-secondary" }, t("vio.open_permit")),
      h("button", { type: "button", class: "btn btn-small btn-secondary", onclick: () => go({ permit: null }) },
        t("vio.clear_permit"))) : null,
    note, list);

  const params = new URLSearchParams();
  if (siteId !== null) params.set("site", String(siteId));
  if (status !== "all") params.set("status", status);
  if (permit) params.set("permit", permit);
  const key = `${siteId}:${status}:${permit || ""}`;

  (async () => {
    let found;
    try {
      found = await fetchKept("violations", ctx.me.id, key, `/api/violations?${params}`);
    } catch (error) {
      screen.dataset.source = "none";
      list.replaceChildren(h("p", { class: "card muted", "data-testid": "vio-failed" }, failure(error)));
      return;
    }
    const items = found.value || [];
    screen.dataset.source = found.fetchedAt ? "cache" : "server";
    if (found.fetchedAt) note.replaceChildren(offlineNote(found.fetchedAt));
    count.textContent = t("vio.count", { n: items.length });
    list.replaceChildren(items.length
      ? h("ul", { class: "vio-cards" }, items.map((v) => h("li", null, card(v))))
      : h("p", { class: "card muted", "data-testid": "vio-empty" }, t("vio.empty")));
  })().catch((error) => console.error("violations failed", error));
  return screen;
}

function card(v) {
  const overdue = isOverdue(v);
  return h("a", { class: `vio-card${overdue ? " is-overdue" : ""}`, href: `/app/violations/${v.id}`,
    "data-testid": "vio-card", "data-id": String(v.id) },
  h("div", { class: "vio-card-top" },
    h("p", { class: "vio-card-title" }, v.title),
    gradeChip(v.grade)),
  h("p", { class: "vio-card-where" }, unitText(v)),
  h("div", { class: "vio-card-meta" },
    statusChip(v.status),
    v.status === "open" ? h("span", { class: `vio-left${overdue ? " is-overdue" : ""}`, "data-testid": "vio-left" },
      timeLeft(v)) : null,
    h("span", { class: "muted" }, clock(v.found_at))));
}

// ---------------------------------------------------------------------------------------------
// One notice

/** Whether this person may re-inspect by hand: the desk, 客服, or the department that found it. */
export function mayReinspect(me, v) {
  if (!me || v.status !== "open") return false;
  if (DESK_ROLES.has(me.role)) return true;
  if (!STAFF_ROLES.has(me.role) || !me.department) return false;
  return me.department.code === "customer_service" || me.department.code === v.found_department?.code;
}

export function renderDetail(ctx) {
  const id = Number(ctx.params.id);
  const screen = h("section", { class: "vio-notice-screen", "data-testid": "vio-detail", "data-source": "loading" },
    h("p", { class: "muted" }, t("vio.loading")));
  const group = `violation:${id}`;
  let unsent = 0;

  async function load() {
    let found;
    try {
      found = await fetchKept("violation", ctx.me.id, id, `/api/violations/${id}`);
    } catch (error) {
      screen.dataset.source = "none";
      screen.replaceChildren(
        h("a", { class: "btn btn-secondary no-print vio-back", href: "/app/violations" }, t("vio.back")),
        h("p", { class: "card muted", "data-testid": "vio-failed" }, failure(error)));
      return;
    }
    useSiteZone(ctx, found.value.site_id);
    const requests = await store.listRequests(ctx.me.id, group).catch(() => []);
    unsent = requests.filter((r) => r.status !== "synced").length;
    screen.dataset.source = found.fetchedAt ? "cache" : "server";
    screen.replaceChildren(...detailParts(ctx, found.value, found.fetchedAt, requests, load));
  }

  load().catch((error) => console.error("violation failed", error));
  redrawOnSync(screen, group, () => unsent > 0, () => load().catch(() => {}));
  return screen;
}

function row(label, ...value) {
  return h("tr", null, h("th", { scope: "row" }, label), h("td", null, ...value));
}

function photoGrid(photos) {
  return h("div", { class: "vio-photos" }, photos.map((p) =>
    h("a", { href: p.url, target: "_blank", rel: "noopener", class: "vio-photo", "data-testid": "vio-photo",
      "data-sha256": p.sha256 },
    h("img", { src: p.thumb_url, alt: "", loading: "lazy" }))));
}

function eventText(e) {
  if (e.action === "reinspect") return t(e.passed ? "vio.event.reinspect_pass" : "vio.event.reinspect_fail");
  return t(`vio.event.${e.action}`);
}

function detailParts(ctx, v, fetchedAt, requests, reload) {
  const notice = v.notice || {};
  const contractor = notice.contractor;
  const parts = [];
  parts.push(h("div", { class: "vio-actions-top no-print" },
    h("a", { class: "btn btn-secondary btn-small", href: "/app/violations" }, t("vio.back")),
    v.permit_id ? h("a", { class: "btn btn-secondary btn-small", href: `/app/renovations/${v.permit_id}` },
      t("vio.open_permit")) : null,
    h("button", { type: "button", class: "btn btn-secondary btn-small", "data-testid": "vio-print",
      onclick: () => window.print() }, t("vio.print"))));
  if (fetchedAt) parts.push(offlineNote(fetchedAt));

  const reinspection = v.reinspection;
  parts.push(h("article", { class: "vio-notice card", "data-testid": "vio-notice" },
    h("header", { class: "vio-notice-head" },
      h("h1", { class: "vio-notice-title" }, t("vio.notice_title")),
      h("p", { class: "vio-notice-no" }, `${t("vio.no")} WZ-${String(v.id).padStart(6, "0")}`),
      h("div", { class: "vio-notice-chips" }, gradeChip(v.grade), statusChip(v.status))),
    h("table", { class: "vio-table" }, h("tbody", null,
      row(t("vio.unit"), h("span", { "data-testid": "vio-unit" }, notice.unit || unitText(v))),
      notice.owner_name ? row(t("vio.owner"), notice.owner_name) : null,
      contractor && (contractor.company || contractor.person)
        ? row(t("vio.contractor"), [contractor.company, contractor.person, contractor.phone].filter(Boolean).join(" · "))
        : null,
      row(t("vio.item"), h("strong", { "data-testid": "vio-item" }, v.title)),
      row(t("vio.grade"), t(`vio.grade.${v.grade}`)),
      row(t("vio.found"), t("vio.found_by", { who: v.found_by?.display_name || "", time: clock(v.found_at),
        dept: departmentText(v.found_department) })),
      row(t("vio.deadline"), h("span", { "data-testid": "vio-deadline", "data-deadline": v.deadline || "" },
        t("vio.deadline_text", { time: clock(v.deadline) })),
      v.status === "open" ? h("span", { class: `vio-left${isOverdue(v) ? " is-overdue" : ""} no-print` }, " ",
        timeLeft(v)) : null),
      v.note ? row(t("vio.note"), v.note) : null,
      v.work_order ? row(t("vio.work_order"),
        h("a", { href: `/app/work-orders/${v.work_order.id}`, "data-testid": "vio-work-order",
          "data-id": String(v.work_order.id) },
        t("vio.work_order_text", { id: v.work_order.id,
          status: WO_STATUS[getLang()]?.[v.work_order.status] || v.work_order.status }))) : null,
      reinspection ? row(t("vio.reinspection"), h("span", { "data-testid": "vio-reinspection" },
        t("vio.reinspected", { who: reinspection.by?.display_name || "", time: clock(reinspection.at) }),
        reinspection.by_hand ? "" : t("vio.reinspected_check"),
        reinspection.note ? ` · ${reinspection.note}` : "")) : null)),
    v.photos?.length ? h("div", { class: "vio-photos-block" },
      h("h2", { class: "section-title" }, t("vio.photos")), photoGrid(v.photos)) : null,
    reinspection?.photos?.length ? photoGrid(reinspection.photos) : null,
    h("div", { class: "vio-signatures" },
      h("p", null, t("vio.sign_owner"), h("span", { class: "vio-sign-line" })),
      h("p", null, t("vio.sign_office"), h("span", { class: "vio-sign-line" })),
      h("p", null, t("vio.sign_date"), h("span", { class: "vio-sign-line vio-sign-short" })))));

  const unsent = requests.filter((r) => r.status !== "synced");
  if (unsent.length) {
    parts.push(h("ul", { class: "vio-pending no-print", "data-testid": "vio-pending" }, unsent.map((r) =>
      h("li", { class: r.status === "rejected" ? "is-rejected" : "" },
        r.status === "rejected"
          ? t("vio.rejected", { what: r.record.label, reason: r.reason || r.code || "" })
          : t("vio.pending", { what: r.record.label })))));
  }
  const waiting = unsent.some((r) => r.status !== "rejected");
  if (!waiting && mayReinspect(ctx.me, v)) parts.push(reinspectPanel(ctx, v, reload));
  if (!waiting && v.status === "open" && MANAGER_ROLES.has(ctx.me.role)) parts.push(cancelPanel(ctx, v, reload));

  if (v.events?.length) {
    parts.push(h("section", { class: "vio-events card no-print" },
      h("h2", { class: "section-title" }, t("vio.events")),
      h("ol", { class: "vio-event-list" }, v.events.map((e) => h("li", null,
        h("strong", null, eventText(e)), " · ", e.actor?.display_name || "", " · ", clock(e.at),
        e.note ? ` · ${e.note}` : "")))));
  }
  return parts;
}

async function queue(ctx, v, path, body, what, reload, photos = []) {
  await queueAndSend({
    path, body, photos, group: `violation:${v.id}`, userId: ctx.me.id,
    label: `${t("vio.title")} ${unitText(v)} · ${what}`,
  });
  await reload();
}

function reinspectPanel(ctx, v, reload) {
  const note = h("textarea", { class: "input vio-note", rows: "2", "data-testid": "vio-reinspect-note",
    "aria-label": t("vio.reinspect_note"), placeholder: t("vio.reinspect_note") });
  const message = h("p", { class: "field-error", role: "alert", hidden: true });
  const field = photoField({ testid: "vio-reinspect", onStart: () => { message.hidden = true; },
    onProblem: (key) => {
      message.textContent = t(key);
      message.hidden = false;
    } });
  let busy = false;
  const act = (passed) => async () => {
    if (busy || field.busy()) return;
    busy = true;
    try {
      const photos = [...field.photos];
      await queue(ctx, v, `/api/violations/${v.id}/reinspect`,
        { passed, note: note.value.trim(), photos: photos.map((p) => p.sha256) },
        t(passed ? "vio.pass" : "vio.fail"), reload, photos);
      field.release();
    } finally {
      busy = false;
    }
  };
  return h("section", { class: "vio-reinspect card no-print", "data-testid": "vio-reinspect" },
    h("h2", { class: "section-title" }, t("vio.reinspect_title")),
    note, field.el, message,
    h("div", { class: "vio-pair" },
      h("button", { type: "button", class: "btn vio-pass", "data-testid": "vio-pass", onclick: act(true) },
        "✓ ", t("vio.pass")),
      h("button", { type: "button", class: "btn vio-fail", "data-testid": "vio-fail", onclick: act(false) },
        "✕ ", t("vio.fail"))));
}

function cancelPanel(ctx, v, reload) {
  const reason = h("textarea", { class: "input vio-note", rows: "2", "data-testid": "vio-cancel-reason",
    "aria-label": t("vio.cancel_reason"), placeholder: t("vio.cancel_reason") });
  const message = h("p", { class: "field-error", role: "alert" });
  const form = h("div", { class: "vio-cancel-form", hidden: true }, reason, message,
    h("button", { type: "button", class: "btn btn-danger-outline btn-block", "data-testid": "vio-cancel-confirm",
      onclick: async () => {
        const text = reason.value.trim();
        if (!text) {
          message.textContent = t("vio.cancel_needed");
          reason.focus();
          return;
        }
        await queue(ctx, v, `/api/violations/${v.id}/cancel`, { note: text }, t("vio.cancel"), reload);
      } }, t("vio.cancel_confirm")));
  return h("section", { class: "vio-cancel no-print" },
    h("button", { type: "button", class: "btn btn-secondary btn-block", "data-testid": "vio-cancel",
      onclick: () => {
        form.hidden = false;
        reason.focus();
      } }, t("vio.cancel")),
    form);
}
