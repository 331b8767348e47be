// The renovation permit at a glance on the check screen of a unit under renovation (装修单元): how
// long the permit runs, what must be posted on the door, the workers and their passes (expired in
// red), hot work allowed today, today's round of each department (客服/工程/保安) and whether noisy
// work is allowed right now by the site's clock.
//
// The data is GET /api/renovations/glance?site= (every active permit of the site, keyed by
// checkpoint), fetched with the other offline data after each catalogue refresh (at most every
// REFRESH_MS) and kept in IndexedDB, so the card shows with no network. Dates and "valid today"
// are worked out again here in the site's time zone, so yesterday's copy does not say "valid"
// for a pass that ran out at midnight.

import { api } from "../api.js";
import { h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import * as store from "../store.js";
import { onCatalogueRefreshed } from "../sync.js";
import { departmentName } from "./work_orders.js";

export const DEFAULT_NOISY_HOURS = [["08:00", "12:00"], ["14:00", "18:00"]];
export const DEPARTMENTS = ["customer_service", "engineering", "security"];
const REFRESH_MS = 5 * 60_000;
/** A pass running out within this many days is shown as "expiring". */
export const SOON_DAYS = 3;
const POSTINGS = ["施工许可证", "二装问答", "违章处罚规定"];

addStrings({
  "zh-CN": {
    "glance.title": "装修许可",
    "glance.unit": "{building} {unit}",
    "glance.valid_until": "有效至 {day}",
    "glance.days_left": "剩 {n} 天",
    "glance.overdue": "已超期 {n} 天",
    "glance.ends_today": "今天到期",
    "glance.noisy_ok": "现在是允许噪音施工时段",
    "glance.noisy_no": "现在禁止噪音施工",
    "glance.noisy_windows": "允许时段 {windows}（{time} 项目时间）",
    "glance.today": "今日巡查",
    "glance.postings": "门上应张贴",
    "glance.workers": "施工人员与出入证（{n}）",
    "glance.no_workers": "未登记施工人员",
    "glance.pass": "证号 {number}",
    "glance.pass_until": "至 {day}",
    "glance.pass_expired": "已过期",
    "glance.pass_soon": "即将到期",
    "glance.id_tail": "证件尾号 {tail}",
    "glance.expired_count": "{n} 人证件过期",
    "glance.hot_work": "动火",
    "glance.hot_work_today": "今日动火证有效：{from} – {to} {where}",
    "glance.no_hot_work": "今日无有效动火证：不得动火",
    "glance.contractor": "施工单位",
    "glance.owner": "业主",
    "glance.open_permit": "查看许可证",
    "glance.as_of": "数据更新于 {time}",
    "glance.none": "未找到此单元的有效装修许可证：请核实是否违规施工",
    "glance.not_loaded": "装修信息尚未下载（联网后自动下载）",
    "glance.status.done": "已巡",
    "glance.on_phone": "(本机)",
    "glance.status.late": "补巡",
    "glance.status.missed": "漏巡",
    "glance.status.pending": "未巡",
    "glance.status.none": "无需",
    "glance.status.unknown": "未知",
  },
  en: {
    "glance.title": "Renovation permit",
    "glance.unit": "{building} {unit}",
    "glance.valid_until": "Valid until {day}",
    "glance.days_left": "{n} days left",
    "glance.overdue": "{n} days overdue",
    "glance.ends_today": "Ends today",
    "glance.noisy_ok": "Noisy work is allowed now",
    "glance.noisy_no": "No noisy work now",
    "glance.noisy_windows": "Allowed {windows} ({time} site time)",
    "glance.today": "Today's rounds",
    "glance.postings": "Must be posted on the door",
    "glance.workers": "Workers and passes ({n})",
    "glance.no_workers": "No workers registered",
    "glance.pass": "Pass {number}",
    "glance.pass_until": "until {day}",
    "glance.pass_expired": "Expired",
    "glance.pass_soon": "Expires soon",
    "glance.id_tail": "ID …{tail}",
    "glance.expired_count": "{n} expired",
    "glance.hot_work": "Hot work",
    "glance.hot_work_today": "Hot-work permit valid today: {from} – {to} {where}",
    "glance.no_hot_work": "No hot-work permit today: no hot work",
    "glance.contractor": "Contractor",
    "glance.owner": "Owner",
    "glance.open_permit": "Open the permit",
    "glance.as_of": "Data of {time}",
    "glance.none": "No valid renovation permit for this unit: check for unauthorised work",
    "glance.not_loaded": "Renovation data not downloaded yet (it downloads when online)",
    "glance.status.done": "Done",
    "glance.on_phone": "(this phone)",
    "glance.status.late": "Late",
    "glance.status.missed": "Missed",
    "glance.status.pending": "Not yet",
    "glance.status.none": "—",
    "glance.status.unknown": "Unknown",
  },
});

// ---------------------------------------------------------------------------------------------
// The site's clock

/** Today "YYYY-MM-DD" and now "HH:MM" in `timeZone` (the phone's own zone when unknown/invalid). */
export function siteClock(timeZone, now = new Date()) {
  const parts = (options) => {
    try {
      return new Intl.DateTimeFormat("en-GB", { ...options, timeZone: timeZone || undefined }).formatToParts(now);
    } catch {
      return new Intl.DateTimeFormat("en-GB", options).formatToParts(now);
    }
  };
  const get = (list, type) => list.find((p) => p.type === type)?.value || "";
  const d = parts({ year: "numeric", month: "2-digit", day: "2-digit" });
  const c = parts({ hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const hour = get(c, "hour") === "24" ? "00" : get(c, "hour");
  return { today: `${get(d, "year")}-${get(d, "month")}-${get(d, "day")}`, time: `${hour}:${get(c, "minute")}` };
}

/** Whether noisy work is allowed at local "HH:MM": inside one of the [from, to) windows. */
export function noisyAllowed(windows, time) {
  return (windows || []).some((w) => Array.isArray(w) && w.length === 2 && w[0] <= time && time < w[1]);
}

/** Whole days from `today` to `day` (both "YYYY-MM-DD"). */
export function daysBetween(today, day) {
  return Math.round((Date.parse(`${day}T00:00:00Z`) - Date.parse(`${today}T00:00:00Z`)) / 86_400_000);
}

export function timezoneOf(me, siteId) {
  return (me?.sites || []).find((s) => s.id === siteId)?.timezone || null;
}

// ---------------------------------------------------------------------------------------------
// Fetching and keeping it

/** The answer of the glance endpoint as rows (it may come as a list or keyed by checkpoint). */
export function glanceRows(data) {
  if (!data) return [];
  if (Array.isArray(data)) return data;
  for (const key of ["permits", "items", "rows", "checkpoints"]) {
    if (Array.isArray(data[key])) return data[key];
  }
  return Object.values(data).filter((row) => row && typeof row === "object" && "permit_id" in row);
}

/** Fetch the site's glance and keep it; throws the api error (NetworkError offline). */
export async function fetchGlance(userId, siteId) {
  const data = await api(`/api/renovations/glance?site=${encodeURIComponent(siteId)}`);
  await store.putCached("glance", userId, siteId, data);
  return data;
}

/** The kept copy: {value, fetched_at} or null. */
export function cachedGlance(userId, siteId) {
  return store.getCached("glance", userId, siteId).catch(() => null);
}

// After each catalogue refresh: every site of the person with renovation checkpoints on the phone,
// at most every REFRESH_MS (the check screen fetches a fresh one itself when online).
onCatalogueRefreshed(async (user, catalogue) => {
  const sites = new Set((catalogue?.checkpoints || []).filter((c) => c.kind === "renovation").map((c) => c.site_id));
  for (const siteId of sites) {
    const kept = await cachedGlance(user.id, siteId);
    if (kept && Date.now() - kept.fetched_at < REFRESH_MS) continue;
    try {
      await fetchGlance(user.id, siteId);
    } catch {
      return; // offline, or the server does not answer it: keep what we have
    }
  }
});

// ---------------------------------------------------------------------------------------------
// The card

function formatTime(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  const today = new Date().toDateString() === d.toDateString();
  return `${today ? "" : `${pad(d.getMonth() + 1)}-${pad(d.getDate())} `}${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function daysLeftText(left) {
  if (left < 0) return t("glance.overdue", { n: -left });
  if (left === 0) return t("glance.ends_today");
  return t("glance.days_left", { n: left });
}

/** The noisy-hours banner for `windows` at the site's time now. */
export function noisyBanner(windows, timeZone) {
  const el = h("div", { class: "glance-noisy", role: "status", "data-testid": "glance-noisy" });
  const draw = () => {
    const { time } = siteClock(timeZone);
    const allowed = noisyAllowed(windows, time);
    el.dataset.allowed = allowed ? "true" : "false";
    el.className = `glance-noisy ${allowed ? "is-allowed" : "is-forbidden"}`;
    el.replaceChildren(
      h("strong", { class: "glance-noisy-head" }, allowed ? "✓ " : "✗ ", t(allowed ? "glance.noisy_ok" : "glance.noisy_no")),
      h("span", { class: "glance-noisy-windows" }, t("glance.noisy_windows", {
        windows: (windows || []).map((w) => `${w[0]}–${w[1]}`).join("，"), time })));
  };
  draw();
  // Keep it right while the screen stays open (the window may close at 12:00 mid-check).
  const timer = setInterval(() => {
    if (!el.isConnected) clearInterval(timer);
    else draw();
  }, 30_000);
  return el;
}

/** "尾号 123X" from a masked ID number ("**************123X"): the stars say nothing on a phone. */
export function idTail(masked) {
  const tail = String(masked || "").replace(/\*/g, "");
  return tail ? t("glance.id_tail", { tail }) : "";
}

function workerLine(worker, today) {
  const expired = worker.valid_until ? worker.valid_until < today : worker.valid === false;
  const soon = !expired && worker.valid_until && daysBetween(today, worker.valid_until) <= SOON_DAYS;
  return h("li", { class: `glance-worker${expired ? " is-expired" : soon ? " is-soon" : ""}`, "data-testid": "glance-worker",
    "data-valid": expired ? "false" : "true" },
    h("span", { class: "glance-worker-name" }, worker.name),
    h("span", { class: "glance-worker-id" }, idTail(worker.id_number)),
    h("span", { class: "glance-worker-pass" },
      worker.pass_number ? t("glance.pass", { number: worker.pass_number }) : "",
      worker.valid_until ? ` ${t("glance.pass_until", { day: worker.valid_until })}` : ""),
    expired ? h("strong", { class: "glance-expired" }, t("glance.pass_expired"))
      : soon ? h("strong", { class: "glance-soon" }, t("glance.pass_soon")) : null);
}

/** The card for `row` (one permit of the glance), drawn with the site's `today`. */
export function glanceBody(row, { timeZone, fetchedAt, offline, localDone = null }) {
  const { today } = siteClock(timeZone);
  const left = row.ends_on ? daysBetween(today, row.ends_on) : null;
  const hotToday = (row.hot_work || []).filter((w) => w.starts_on <= today && today <= w.ends_on);
  const postings = [...(row.door_postings?.length ? row.door_postings : POSTINGS)];
  if (hotToday.length && !postings.includes("动火证")) postings.push("动火证");
  if (!hotToday.length) {
    const i = postings.indexOf("动火证");
    if (i >= 0) postings.splice(i, 1);
  }
  const unit = row.unit || {};
  // The day the copy was fetched may not be today; a check saved on this phone today counts too.
  const todayStatus = row.day && row.day !== today
    ? Object.fromEntries(DEPARTMENTS.map((d) => [d, "unknown"])) : { ...(row.today || {}) };
  if (localDone) todayStatus[localDone] = "done";
  const workers = row.workers || [];
  const contractor = row.contractor || {};
  const expired = workers.filter((w) => (w.valid_until ? w.valid_until < today : w.valid === false)).length;
  const leftClass = left === null ? "" : left < 0 ? "is-overdue" : left <= 7 ? "is-soon" : "is-ok";
  return [
    h("div", { class: "glance-head" },
      h("p", { class: "glance-title" }, t("glance.title"),
        unit.number ? h("span", { class: "glance-unit" }, ` · ${[unit.building, unit.number].filter(Boolean).join(" ")}`) : null,
        // The permit's status in the permit screens' words (renovations.js registers them).
        row.status && t(`ren.status.${row.status}`) !== `ren.status.${row.status}`
          ? h("span", { class: `wo-status glance-status ren-status-${row.status}`, "data-testid": "glance-status" }, t(`ren.status.${row.status}`))
          : null),
      row.ends_on
        ? h("p", { class: `glance-valid ${leftClass}`, "data-testid": "glance-valid" },
          h("span", null, t("glance.valid_until", { day: row.ends_on })),
          left !== null ? h("strong", { "data-testid": "glance-days-left" }, daysLeftText(left)) : null)
        : null),
    noisyBanner(row.noisy_hours || DEFAULT_NOISY_HOURS, timeZone),
    h("div", { class: "glance-block" },
      h("p", { class: "glance-label" }, t("glance.today")),
      h("ul", { class: "glance-depts", "data-testid": "glance-today" }, DEPARTMENTS.map((dept) => {
        const status = todayStatus[dept] || "none";
        const good = status === "done" || status === "late";
        return h("li", { class: `glance-dept is-${status}`, "data-dept": dept, "data-status": status },
          h("span", { class: "glance-dept-mark", "aria-hidden": "true" }, good ? "✓" : status === "none" ? "–" : status === "unknown" ? "?" : "✗"),
          h("span", { class: "glance-dept-name" }, departmentName(dept)),
          h("span", { class: "glance-dept-status" }, t(`glance.status.${status}`),
            dept === localDone ? ` ${t("glance.on_phone")}` : ""));
      }))),
    h("div", { class: "glance-block" },
      h("p", { class: "glance-label" }, t("glance.postings")),
      h("ul", { class: "glance-postings", "data-testid": "glance-postings" },
        postings.map((p) => h("li", { class: p === "动火证" ? "is-hot" : "" }, p)))),
    h("div", { class: `glance-block glance-hot ${hotToday.length ? "is-valid" : "is-none"}`, "data-testid": "glance-hot-work",
      "data-valid": hotToday.length ? "true" : "false" },
      hotToday.length
        ? hotToday.map((w) => h("p", null, t("glance.hot_work_today", { from: w.starts_on, to: w.ends_on, where: w.location || "" })))
        : h("p", null, t("glance.no_hot_work"))),
    h("details", { class: "glance-block glance-workers-box", open: workers.length <= 2 || expired ? true : null },
      h("summary", { class: "glance-label" }, t("glance.workers", { n: workers.length }),
        expired ? h("strong", { class: "glance-expired", "data-testid": "glance-expired-count" },
          ` · ${t("glance.expired_count", { n: expired })}`) : null),
      workers.length
        ? h("ul", { class: "glance-workers", "data-testid": "glance-workers" }, workers.map((w) => workerLine(w, today)))
        : h("p", { class: "muted" }, t("glance.no_workers"))),
    h("dl", { class: "wo-facts glance-parties" },
      contractor.company || contractor.person ? [
        h("dt", null, t("glance.contractor")),
        h("dd", null, [contractor.company, contractor.person].filter(Boolean).join(" · "),
          contractor.phone ? [" ", h("a", { href: `tel:${contractor.phone}` }, contractor.phone)] : null)] : null,
      row.owner_name ? [h("dt", null, t("glance.owner")), h("dd", null, row.owner_name)] : null),
    h("div", { class: "glance-foot" },
      row.permit_id ? h("a", { class: "btn glance-open", href: `/app/renovations/${row.permit_id}`,
        "data-testid": "glance-open-permit" }, t("glance.open_permit")) : null,
      fetchedAt ? h("span", { class: "muted", "data-testid": "glance-as-of" },
        t("glance.as_of", { time: formatTime(fetchedAt) })) : null),
  ];
}

/**
 * My department, when I saved a check of this checkpoint on this phone today (site's day) that
 * the fetched copy may not know of yet; else null.
 */
async function checkedHereToday(me, checkpoint, timeZone) {
  const dept = me?.department?.code;
  if (!DEPARTMENTS.includes(dept)) return null;
  const { today } = siteClock(timeZone);
  for (const row of await store.listRecords()) {
    const r = row.record;
    if (r.kind || row.user_id !== me.id || row.status === "rejected") continue;
    if (String(r.checkpoint).toUpperCase() !== String(checkpoint.code).toUpperCase()) continue;
    if (siteClock(timeZone, new Date(Date.parse(r.device_time))).today === today) return dept;
  }
  return null;
}

/**
 * The at-a-glance card for a renovation checkpoint: shows the kept copy at once, then a fresh one
 * when the server answers.
 * @param {import("../app.js").Ctx} ctx
 * @param {any} checkpoint  the catalogue checkpoint (kind "renovation")
 */
export function glanceCard(ctx, checkpoint) {
  const card = h("section", { class: "card glance", "data-testid": "renovation-glance", "data-state": "loading",
    "aria-label": t("glance.title") });
  const timeZone = timezoneOf(ctx.me, checkpoint.site_id);
  let localDone = null;
  const draw = (data, fetchedAt, offline) => {
    const row = glanceRows(data).find((r) => Number(r.checkpoint_id) === checkpoint.id);
    if (!row) {
      card.dataset.state = data ? "none" : "missing";
      card.replaceChildren(h("p", { class: data ? "form-error" : "muted", "data-testid": "glance-none" },
        t(data ? "glance.none" : "glance.not_loaded")));
      return;
    }
    card.dataset.state = offline ? "cached" : "fresh";
    card.dataset.permit = String(row.permit_id);
    card.replaceChildren(...glanceBody(row, { timeZone, fetchedAt, offline, localDone }));
  };
  (async () => {
    localDone = await checkedHereToday(ctx.me, checkpoint, timeZone).catch(() => null);
    const kept = await cachedGlance(ctx.me.id, checkpoint.site_id);
    if (kept) draw(kept.value, kept.fetched_at, true);
    try {
      const data = await fetchGlance(ctx.me.id, checkpoint.site_id);
      draw(data, Date.now(), false);
    } catch {
      if (!kept) draw(null, null, true);
    }
  })();
  return card;
}
