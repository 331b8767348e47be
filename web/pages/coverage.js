// The managers' coverage map (巡检覆盖): the site as buildings drawn as columns of floors (top floor
// at the top, basements below), each floor a cell coloured by how its rounds went in the chosen
// period: on time / late or partial / missed / not planned (and "not due yet" for today). Every
// state also has its own mark and pattern (✓ ! ✕ – …), so it reads in a dark stairwell and for
// people who do not tell red from green.
//
// Hover (desk) shows a floor's counts; a tap (phone or desk) opens a bottom sheet with the counts,
// the missed checkpoints with the people expected and the window they were missed in, each
// acknowledged with a comment in one tap (managers), a link to the floor view and to the people's
// routes. The period lives in the URL (?period=today|yesterday|week|month or ?from=&to=), so a
// reload or a link shows the same map. "Today" refreshes itself every 60 s.
//
// Everything comes from GET /api/compliance (group_by=floor and building, and person), GET
// /api/compliance/missed and GET /api/sites/{id}/buildings; the site's "today" and time zone from
// GET /api/compliance/route (the caller's own day).

import { api, ApiError, NetworkError } from "../api.js";
import { h } from "../dom.js";
import { addStrings, getLang, t } from "../i18n.js";

const REFRESH_MS = 60_000;
const PERIODS = ["today", "yesterday", "week", "month", "custom"];
const ACK_ROLES = ["manager", "admin"];

/** The states a cell can be in, worst first, with their marks. */
export const STATES = ["missed", "partial", "ontime", "pending", "none"];
const MARKS = { ontime: "✓", partial: "!", missed: "✕", pending: "…", none: "–" };

addStrings({
  "zh-CN": {
    "cov.title": "巡检覆盖",
    "cov.period": "时间范围",
    "cov.today": "今天(实时)",
    "cov.yesterday": "昨天",
    "cov.week": "本周",
    "cov.month": "本月",
    "cov.custom": "自选",
    "cov.from": "从",
    "cov.to": "到",
    "cov.apply": "查看",
    "cov.range": "{from} 至 {to}",
    "cov.loading": "正在加载覆盖图…",
    "cov.failed": "覆盖图暂时无法加载",
    "cov.offline": "离线：连上服务器后才能查看覆盖图",
    "cov.no_site": "您还没有分配项目",
    "cov.no_buildings": "该项目还没有楼栋",
    "cov.updated": "更新于 {time}",
    "cov.live": "实时 · 每分钟刷新",
    "cov.refresh": "刷新",
    "cov.state.ontime": "按时完成",
    "cov.state.partial": "迟到 / 部分完成",
    "cov.state.missed": "有漏检",
    "cov.state.pending": "未到时间",
    "cov.state.none": "无计划",
    "cov.total": "应巡 {expected} · 按时 {done} · 迟到 {late} · 漏检 {missed} · 待巡 {pending}",
    "cov.rate": "按时率 {rate}",
    "cov.rate_none": "按时率 —",
    "cov.grounds": "室外及其他",
    "cov.counts": "{name}：按时 {done} · 迟到 {late} · 漏检 {missed} · 待巡 {pending}",
    "cov.counts_none": "{name}：无巡检计划",
    "cov.sheet_close": "关闭",
    "cov.done": "按时",
    "cov.late": "迟到",
    "cov.unverified": "手输未验证",
    "cov.missed": "漏检",
    "cov.pending": "待巡",
    "cov.floor_view": "查看楼层平面图",
    "cov.missed_title": "漏检的检查点",
    "cov.missed_none": "没有漏检",
    "cov.missed_loading": "正在加载漏检…",
    "cov.missed_more": "还有 {n} 条未显示",
    "cov.window": "时段 {window}",
    "cov.expected_people": "应巡：",
    "cov.anyone": "项目内任何人",
    "cov.plan": "计划：{name}",
    "cov.ack": "确认漏检",
    "cov.ack_comment": "说明（必填）",
    "cov.ack_placeholder": "例如：当日停电，已安排补巡",
    "cov.ack_submit": "提交确认",
    "cov.ack_cancel": "取消",
    "cov.ack_required": "请填写说明",
    "cov.acked": "已确认 · {name} · {time}",
    "cov.people": "按人员",
    "cov.people_none": "该时段没有人员记录",
    "cov.person_counts": "按时 {done} · 迟到 {late} · 漏检 {missed}",
    "cov.person_anyone": "任何人可巡的计划",
    "cov.route": "巡检路线",
  },
  en: {
    "cov.title": "Patrol coverage",
    "cov.period": "Period",
    "cov.today": "Today (live)",
    "cov.yesterday": "Yesterday",
    "cov.week": "This week",
    "cov.month": "This month",
    "cov.custom": "Custom",
    "cov.from": "From",
    "cov.to": "To",
    "cov.apply": "Show",
    "cov.range": "{from} to {to}",
    "cov.loading": "Loading the coverage map…",
    "cov.failed": "The coverage map cannot be loaded right now",
    "cov.offline": "Offline: the map needs the server",
    "cov.no_site": "You have no site yet",
    "cov.no_buildings": "This site has no buildings yet",
    "cov.updated": "Updated {time}",
    "cov.live": "Live · refreshes every minute",
    "cov.refresh": "Refresh",
    "cov.state.ontime": "On time",
    "cov.state.partial": "Late / partial",
    "cov.state.missed": "Missed",
    "cov.state.pending": "Not due yet",
    "cov.state.none": "Not planned",
    "cov.total": "Expected {expected} · on time {done} · late {late} · missed {missed} · pending {pending}",
    "cov.rate": "On time {rate}",
    "cov.rate_none": "On time —",
    "cov.grounds": "Grounds and other",
    "cov.counts": "{name}: on time {done} · late {late} · missed {missed} · pending {pending}",
    "cov.counts_none": "{name}: no rounds planned",
    "cov.sheet_close": "Close",
    "cov.done": "On time",
    "cov.late": "Late",
    "cov.unverified": "Typed, unverified",
    "cov.missed": "Missed",
    "cov.pending": "Pending",
    "cov.floor_view": "Open the floor plan",
    "cov.missed_title": "Missed checkpoints",
    "cov.missed_none": "Nothing missed",
    "cov.missed_loading": "Loading missed rounds…",
    "cov.missed_more": "{n} more not shown",
    "cov.window": "Window {window}",
    "cov.expected_people": "Expected: ",
    "cov.anyone": "anyone on the site",
    "cov.plan": "Plan: {name}",
    "cov.ack": "Acknowledge",
    "cov.ack_comment": "Comment (required)",
    "cov.ack_placeholder": "e.g. power cut that day, round made up",
    "cov.ack_submit": "Acknowledge",
    "cov.ack_cancel": "Cancel",
    "cov.ack_required": "Please write a comment",
    "cov.acked": "Acknowledged · {name} · {time}",
    "cov.people": "By person",
    "cov.people_none": "Nobody has rounds in this period",
    "cov.person_counts": "on time {done} · late {late} · missed {missed}",
    "cov.person_anyone": "Plans anyone may do",
    "cov.route": "Route",
  },
});

/**
 * The colour of a floor or building from its counts (the API's own suggestion): anything missed →
 * missed; late, typed-only, or some done and some not yet due → late/partial; all decided done →
 * on time; only rounds not yet due → pending; nothing expected → not planned.
 */
export function cellState(counts) {
  if (!counts || !counts.expected) return "none";
  if (counts.missed > 0) return "missed";
  if (counts.late + counts.unverified > 0) return "partial";
  if (counts.pending > 0) return counts.done > 0 ? "partial" : "pending";
  return "ontime";
}

// ---------------------------------------------------------------------------------------------
// Days as "YYYY-MM-DD" strings (the site's local days: no time zone arithmetic needed)

function parseDay(day) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d));
}

function formatDay(date) {
  return date.toISOString().slice(0, 10);
}

export function addDays(day, n) {
  const date = parseDay(day);
  date.setUTCDate(date.getUTCDate() + n);
  return formatDay(date);
}

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

/** [from, to] of a period, given the site's today. */
function rangeOf(period, today, custom) {
  if (period === "yesterday") return [addDays(today, -1), addDays(today, -1)];
  if (period === "week") {
    const weekday = (parseDay(today).getUTCDay() + 6) % 7; // Monday = 0
    return [addDays(today, -weekday), today];
  }
  if (period === "month") return [`${today.slice(0, 8)}01`, today];
  if (period === "custom" && custom.from && custom.to) {
    return custom.from <= custom.to ? [custom.from, custom.to] : [custom.to, custom.from];
  }
  return [today, today];
}

/** The period a manager wants when nothing is chosen: yesterday's rounds in the morning. */
function defaultPeriod(nowInSite) {
  return nowInSite.hour < 12 ? "yesterday" : "today";
}

/** Hour and minute (and the day) of an instant in the site's time zone. */
export function siteClock(iso, timezone) {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: timezone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(iso));
  const get = (type) => parts.find((p) => p.type === type)?.value || "";
  return { day: `${get("year")}-${get("month")}-${get("day")}`, hm: `${get("hour")}:${get("minute")}`,
    hour: Number(get("hour")) };
}

export function shortDay(day) {
  const [, m, d] = day.split("-").map(Number);
  return getLang() === "en" ? `${m}/${d}` : `${m}月${d}日`;
}

function rateText(rate) {
  return rate === null || rate === undefined ? t("cov.rate_none")
    : t("cov.rate", { rate: `${Math.round(rate * 100)}%` });
}

function errorText(error) {
  if (error instanceof NetworkError) return t("cov.offline");
  if (error instanceof ApiError && error.message) return error.message;
  return t("cov.failed");
}

/** The window a round was missed in, in the site's time: "11月22日 08:30–17:30". */
export function windowText(item, timezone) {
  const start = siteClock(item.starts_at, timezone);
  const end = siteClock(item.ends_at, timezone);
  // A window ending at midnight reads as 24:00 of its own day rather than 00:00 of the next.
  const endHm = end.hm === "00:00" && end.day === addDays(start.day, 1) ? "24:00" : end.hm;
  const sameDay = end.day === start.day || endHm === "24:00";
  return sameDay
    ? `${shortDay(start.day)} ${start.hm}–${endHm}`
    : `${shortDay(start.day)} ${start.hm} – ${shortDay(end.day)} ${end.hm}`;
}

function swatch(state) {
  return h("span", { class: `cov-swatch cov-${state}`, "aria-hidden": "true" }, MARKS[state]);
}

// ---------------------------------------------------------------------------------------------

/** @param {import("../app.js").Ctx} ctx */
export function render(ctx) {
  const { site, me } = ctx;
  const screen = h("section", { class: "coverage desk", "data-testid": "coverage-screen" },
    h("h1", { class: "page-title" }, t("cov.title")));
  if (!site) {
    screen.append(h("p", { class: "muted" }, t("cov.no_site")));
    return screen;
  }

  const query = new URLSearchParams(location.search);
  const state = {
    period: PERIODS.includes(query.get("period") || "") ? query.get("period") : null,
    custom: { from: query.get("from") || "", to: query.get("to") || "" },
    today: "", timezone: "Asia/Shanghai", buildings: null, from: "", to: "",
  };
  if (!DAY_RE.test(state.custom.from) || !DAY_RE.test(state.custom.to)) state.custom = { from: "", to: "" };
  else if (!state.period) state.period = "custom";

  const periodBar = h("div", { class: "cov-periods", role: "group", "aria-label": t("cov.period"),
    "data-testid": "cov-periods" });
  const customBox = h("form", { class: "cov-custom", "data-testid": "cov-custom", hidden: true });
  const rangeLine = h("p", { class: "cov-range", "data-testid": "cov-range" });
  const totals = h("p", { class: "cov-totals", "data-testid": "cov-totals", "aria-live": "polite" });
  const updated = h("span", { class: "muted", "data-testid": "cov-updated" });
  const refreshButton = h("button", { type: "button", class: "btn btn-secondary btn-small",
    "data-testid": "cov-refresh", onclick: () => load() }, t("cov.refresh"));
  const legend = h("ul", { class: "cov-legend", "data-testid": "cov-legend" },
    STATES.map((s) => h("li", null, swatch(s), h("span", null, t(`cov.state.${s}`)))));
  const map = h("div", { class: "cov-map", "data-testid": "cov-map", "aria-busy": "true" },
    h("p", { class: "muted" }, t("cov.loading")));
  const people = h("div", { class: "cov-people card", "data-testid": "cov-people", hidden: true });
  const sheet = makeSheet();

  function setUrl() {
    const params = new URLSearchParams();
    if (state.period === "custom") {
      params.set("from", state.custom.from);
      params.set("to", state.custom.to);
    } else {
      params.set("period", state.period);
    }
    history.replaceState(null, "", `${location.pathname}?${params}`);
  }

  function drawPeriods() {
    periodBar.replaceChildren(...PERIODS.map((p) => h("button", {
      type: "button", class: "btn btn-small cov-period", "aria-pressed": String(state.period === p),
      "data-testid": `cov-period-${p}`,
      onclick: () => {
        state.period = p;
        if (p === "custom" && !state.custom.from) {
          state.custom = { from: state.from || state.today, to: state.to || state.today };
        }
        drawPeriods();
        if (p !== "custom") {
          setUrl();
          load();
        }
      },
    }, t(`cov.${p}`))));
    customBox.hidden = state.period !== "custom";
    if (!customBox.hidden) {
      const from = h("input", { type: "date", class: "input", id: "cov-from", value: state.custom.from,
        max: state.today, "data-testid": "cov-from", required: true });
      const to = h("input", { type: "date", class: "input", id: "cov-to", value: state.custom.to,
        max: state.today, "data-testid": "cov-to", required: true });
      customBox.replaceChildren(
        h("div", { class: "field" }, h("label", { class: "field-label", for: "cov-from" }, t("cov.from")), from),
        h("div", { class: "field" }, h("label", { class: "field-label", for: "cov-to" }, t("cov.to")), to),
        h("button", { type: "submit", class: "btn btn-primary btn-small", "data-testid": "cov-apply" },
          t("cov.apply")));
      customBox.onsubmit = (event) => {
        event.preventDefault();
        if (!from.value || !to.value) return;
        state.custom = { from: from.value, to: to.value };
        setUrl();
        load();
      };
    }
  }

  let generation = 0;
  let lastLoad = 0;
  async function load() {
    const mine = ++generation;
    lastLoad = Date.now();
    [state.from, state.to] = rangeOf(state.period, state.today, state.custom);
    rangeLine.textContent = state.from === state.to ? shortDay(state.from)
      : t("cov.range", { from: shortDay(state.from), to: shortDay(state.to) });
    if (state.period === "today") rangeLine.append(" · ", h("span", { class: "cov-live" }, t("cov.live")));
    refreshButton.disabled = true;
    map.setAttribute("aria-busy", "true");
    const base = `/api/compliance?site=${site.id}&from=${state.from}&to=${state.to}`;
    try {
      const [floors, buildings, persons] = await Promise.all([
        api(`${base}&group_by=floor`), api(`${base}&group_by=building`), api(`${base}&group_by=person`)]);
      if (mine !== generation) return;
      drawMap(floors, buildings);
      drawPeople(persons);
      const tot = floors.total;
      totals.replaceChildren(
        h("span", null, t("cov.total", tot)), " · ",
        h("strong", null, rateText(tot.on_time_rate)));
      updated.textContent = t("cov.updated", {
        time: new Date().toLocaleTimeString(getLang(), { hour: "2-digit", minute: "2-digit" }) });
    } catch (error) {
      if (mine !== generation) return;
      map.replaceChildren(h("p", { class: "form-error", role: "alert", "data-testid": "cov-error" },
        errorText(error)));
    } finally {
      if (mine === generation) {
        refreshButton.disabled = false;
        map.setAttribute("aria-busy", "false");
      }
    }
  }

  /** Counts by floor id (and "grounds" for checkpoints outside any floor). */
  function drawMap(floorReport, buildingReport) {
    const byFloor = new Map(floorReport.rows.map((r) => [r.key, r]));
    const byBuilding = new Map(buildingReport.rows.map((r) => [r.key, r]));
    const columns = state.buildings.map((b) => {
      const floors = [...b.floors].sort((x, y) => y.level - x.level);
      const total = byBuilding.get(b.id);
      const head = h("div", { class: `cov-head cov-${cellState(total)}` },
        h("span", { class: "cov-head-name" }, b.name),
        h("span", { class: "cov-head-rate" }, total ? rateText(total.on_time_rate) : t("cov.state.none")));
      const cells = floors.map((f) => cell(f.id, f.name, byFloor.get(f.id),
        { building: b, floor: f }));
      return h("div", { class: "cov-column", "data-testid": `cov-building-${b.id}`,
        "data-state": cellState(total) }, head, h("div", { class: "cov-cells" }, cells));
    });
    // Rounds of checkpoints on no floor (the grounds, a building as a whole).
    const loose = byFloor.get(null);
    if (loose) {
      columns.push(h("div", { class: "cov-column", "data-testid": "cov-building-grounds" },
        h("div", { class: `cov-head cov-${cellState(loose)}` },
          h("span", { class: "cov-head-name" }, t("cov.grounds")),
          h("span", { class: "cov-head-rate" }, rateText(loose.on_time_rate))),
        h("div", { class: "cov-cells" }, cell(null, t("cov.grounds"), loose, { building: null, floor: null }))));
    }
    map.replaceChildren(columns.length ? h("div", { class: "cov-columns" }, columns)
      : h("p", { class: "muted" }, t("cov.no_buildings")));
  }

  function cell(floorId, name, counts, where) {
    const s = cellState(counts);
    const label = counts && counts.expected
      ? t("cov.counts", { name, ...counts }) : t("cov.counts_none", { name });
    return h("button", {
      type: "button", class: `cov-cell cov-${s}`, "data-state": s,
      "data-testid": floorId === null ? "cov-cell-grounds" : `cov-cell-${floorId}`,
      "data-floor": floorId === null ? "" : String(floorId), title: label, "aria-label": `${label} · ${t(`cov.state.${s}`)}`,
      onclick: () => sheet.open(floorId, name, counts, where),
    },
    h("span", { class: "cov-cell-name" }, name),
    counts && counts.expected
      ? h("span", { class: "cov-cell-count" }, `${counts.done + counts.late}/${counts.expected}`) : null,
    h("span", { class: "cov-cell-mark", "aria-hidden": "true" }, MARKS[s]));
  }

  function drawPeople(report) {
    const rows = report.rows.filter((r) => r.expected || r.done || r.late || r.unverified);
    people.hidden = false;
    people.replaceChildren(h("h2", { class: "section-title" }, t("cov.people")),
      rows.length ? h("ul", { class: "cov-people-list" }, rows.map((r) => h("li", {
        class: "cov-person", "data-state": cellState(r), "data-testid": `cov-person-${r.key ?? "anyone"}` },
      swatch(cellState(r)),
      h("span", { class: "cov-person-name" }, r.key === null ? t("cov.person_anyone") : r.label),
      h("span", { class: "cov-person-counts" }, t("cov.person_counts", r)),
      r.key === null ? null : routeLink(r.key, r.label))))
        : h("p", { class: "muted" }, t("cov.people_none")));
  }

  function routeLink(userId, name) {
    const day = state.to;
    return h("a", { class: "btn btn-secondary btn-small cov-route-link",
      href: `/app/route?user=${userId}&day=${day}`, "data-testid": `cov-route-${userId}`,
      "aria-label": `${t("cov.route")} · ${name}` }, t("cov.route"));
  }

  // -- the bottom sheet: one floor's counts and missed rounds --------------------------------

  function makeSheet() {
    const backdrop = h("div", { class: "cov-backdrop", hidden: true, onclick: () => close() });
    const panel = h("div", { class: "cov-sheet", role: "dialog", "aria-modal": "true", hidden: true,
      "data-testid": "cov-sheet", tabindex: "-1" });
    const api_ = { el: [backdrop, panel], openKey: undefined, open, close };

    function close() {
      backdrop.hidden = true;
      panel.hidden = true;
      api_.openKey = undefined;
      document.removeEventListener("keydown", onKey);
    }
    function onKey(event) {
      if (event.key === "Escape") close();
    }
    function open(floorId, name, counts, where) {
      const first = api_.openKey === undefined;
      api_.openKey = floorId;
      const title = [where.building?.name, where.floor ? name : null].filter(Boolean).join(" ") || name;
      const c = counts || { expected: 0, done: 0, late: 0, unverified: 0, missed: 0, pending: 0 };
      const s = cellState(counts);
      const missedBox = h("div", { class: "cov-missed-box", "data-testid": "cov-missed" });
      panel.replaceChildren(
        h("div", { class: "cov-sheet-head" },
          h("h2", { class: "cov-sheet-title", "data-testid": "cov-sheet-title" }, swatch(s), title),
          h("button", { type: "button", class: "btn btn-secondary btn-small", "data-testid": "cov-sheet-close",
            onclick: close }, t("cov.sheet_close"))),
        h("p", { class: "cov-sheet-range muted" }, rangeLine.textContent, " · ", t(`cov.state.${s}`)),
        h("dl", { class: "cov-sheet-counts", "data-testid": "cov-sheet-counts" },
          ["done", "late", "missed", "pending", "unverified"].filter((k) => k !== "unverified" || c.unverified)
            .map((k) => h("div", { class: `cov-count cov-count-${k}`, "data-count": k },
              h("dt", null, t(`cov.${k}`)), h("dd", { "data-testid": `cov-count-${k}` }, String(c[k]))))),
        floorId !== null ? h("a", { class: "btn btn-secondary cov-floor-link", href: `/app/floors/${floorId}`,
          "data-testid": "cov-floor-link" }, t("cov.floor_view")) : null,
        missedBox);
      backdrop.hidden = false;
      panel.hidden = false;
      if (first) {
        document.addEventListener("keydown", onKey);
        panel.focus({ preventScroll: true });
      }
      if (c.missed) loadMissed(missedBox, floorId);
      else missedBox.replaceChildren(h("p", { class: "muted" }, t("cov.missed_none")));
    }

    async function loadMissed(box, floorId) {
      box.replaceChildren(h("h3", { class: "cov-missed-title" }, t("cov.missed_title")),
        h("p", { class: "muted" }, t("cov.missed_loading")));
      const params = new URLSearchParams({ site: String(site.id), from: state.from, to: state.to,
        page_size: "200" });
      if (floorId !== null) params.set("floor", String(floorId));
      try {
        const page = await api(`/api/compliance/missed?${params}`);
        const items = floorId === null ? page.items.filter((i) => !i.floor) : page.items;
        if (api_.openKey !== floorId) return;
        box.replaceChildren(h("h3", { class: "cov-missed-title" }, t("cov.missed_title")),
          h("ul", { class: "cov-missed-list" }, items.map(missedItem)),
          page.total > page.items.length
            ? h("p", { class: "muted" }, t("cov.missed_more", { n: page.total - page.items.length })) : null);
      } catch (error) {
        box.replaceChildren(h("p", { class: "form-error", role: "alert" }, errorText(error)));
      }
    }

    function missedItem(item) {
      const li = h("li", { class: "cov-missed-item", "data-testid": `cov-missed-${item.id}` });
      const people_ = item.assignees === null
        ? [h("span", null, t("cov.anyone"))]
        : item.assignees.map((p) => h("a", { class: "cov-person-link", href: `/app/route?user=${p.id}&day=${item.day}`,
          "data-testid": `cov-missed-person-${p.id}` }, p.name));
      const ackBox = h("div", { class: "cov-ack" });
      function drawAck(ack) {
        if (ack) {
          const at = siteClock(ack.at, state.timezone);
          ackBox.replaceChildren(h("p", { class: "cov-acked", "data-testid": "cov-acked" },
            t("cov.acked", { name: ack.by?.name || "", time: `${shortDay(at.day)} ${at.hm}` })),
          h("p", { class: "cov-ack-comment" }, ack.comment));
        } else if (ACK_ROLES.includes(me.role)) {
          ackBox.replaceChildren(h("button", { type: "button", class: "btn btn-primary btn-small cov-ack-open",
            "data-testid": "cov-ack-open", onclick: () => drawForm() }, t("cov.ack")));
        } else {
          ackBox.replaceChildren();
        }
      }
      function drawForm() {
        const id = `cov-ack-${item.id}`;
        const text = h("textarea", { class: "input cov-ack-text", id, rows: "2", maxlength: "1000",
          placeholder: t("cov.ack_placeholder"), "data-testid": "cov-ack-comment" });
        const status = h("p", { class: "form-error", role: "alert", hidden: true });
        const submit = h("button", { type: "submit", class: "btn btn-primary btn-small",
          "data-testid": "cov-ack-submit" }, t("cov.ack_submit"));
        const form = h("form", { class: "cov-ack-form" },
          h("label", { class: "field-label", for: id }, t("cov.ack_comment")), text, status,
          h("div", { class: "cov-ack-actions" }, submit,
            h("button", { type: "button", class: "btn btn-secondary btn-small", onclick: () => drawAck(null) },
              t("cov.ack_cancel"))));
        form.onsubmit = async (event) => {
          event.preventDefault();
          const comment = text.value.trim();
          if (!comment) {
            status.textContent = t("cov.ack_required");
            status.hidden = false;
            text.focus();
            return;
          }
          submit.disabled = true;
          try {
            const done = await api(`/api/compliance/missed/${item.id}/acknowledge`,
              { method: "POST", body: { comment } });
            drawAck(done.acknowledgement);
          } catch (error) {
            status.textContent = errorText(error);
            status.hidden = false;
            submit.disabled = false;
          }
        };
        ackBox.replaceChildren(form);
        text.focus();
      }
      drawAck(item.acknowledgement);
      li.append(
        h("p", { class: "cov-missed-name" }, h("strong", null, item.checkpoint.name),
          h("span", { class: "muted" }, ` ${item.checkpoint.code}`)),
        h("p", { class: "cov-missed-window", "data-testid": "cov-missed-window" },
          t("cov.window", { window: windowText(item, state.timezone) })),
        h("p", { class: "cov-missed-people", "data-testid": "cov-missed-people" },
          t("cov.expected_people"), people_.flatMap((el, i) => (i ? ["、", el] : [el]))),
        h("p", { class: "muted cov-missed-plan" }, t("cov.plan", { name: item.plan.name })),
        ackBox);
      return li;
    }

    return api_;
  }

  // -- start: the site's today and time zone, the buildings, then the map ---------------------

  async function start() {
    try {
      const [buildings, own] = await Promise.all([
        api(`/api/sites/${site.id}/buildings`), api(`/api/compliance/route?site=${site.id}`)]);
      state.buildings = buildings;
      state.today = own.day;
      state.timezone = own.timezone;
      if (!state.period) state.period = defaultPeriod(siteClock(new Date().toISOString(), own.timezone));
      drawPeriods();
      setUrl();
      await load();
    } catch (error) {
      map.replaceChildren(h("p", { class: "form-error", role: "alert", "data-testid": "cov-error" },
        errorText(error)));
      map.setAttribute("aria-busy", "false");
    }
  }

  // "Today" is live: every 60 s while shown and visible, and at once on coming back to it.
  const timer = setInterval(() => {
    if (!screen.isConnected) return stop();
    if (state.period === "today" && document.visibilityState === "visible") load();
  }, REFRESH_MS);
  function onVisible() {
    if (!screen.isConnected) return stop();
    if (state.period === "today" && document.visibilityState === "visible"
      && Date.now() - lastLoad >= REFRESH_MS) load();
  }
  function stop() {
    clearInterval(timer);
    document.removeEventListener("visibilitychange", onVisible);
  }
  document.addEventListener("visibilitychange", onVisible);

  screen.append(
    h("div", { class: "cov-controls" }, periodBar, customBox,
      h("div", { class: "cov-status" }, rangeLine, h("span", { class: "cov-status-right" }, updated, refreshButton)),
      totals, legend),
    map, people, ...sheet.el);
  start();
  return screen;
}
