// Monthly work-order statistics (月统计分析, SOP 002) for the desk: the orders raised at a site in a
// month, counted by department, source and status; on-time % for each step of the clock; median
// and 90th-percentile time to arrange, report and close; escalations; the owners' satisfaction.
// Below, the export of a date range as an Excel file: a plain link the browser downloads itself,
// so a big file streams to disk instead of being held in the page. The page prints on A4.

import { api, NetworkError } from "../api.js";
import { h } from "../dom.js";
import { addStrings, getLang, t } from "../i18n.js";
import { siteClock } from "./coverage.js";
import { departmentName, DESK_ROLES, formatDuration, SOURCES, sourceIcon, STATUSES } from "./board.js";

const STEPS = ["dispatch", "arrange", "report", "return"];
const DURATIONS = ["arrange", "report", "close"];
const ANSWERS = ["satisfied", "acceptable", "dissatisfied"];
/** The longest range the server exports at once (server/work_order_stats.py MAX_EXPORT_DAYS). */
const MAX_EXPORT_DAYS = 366;

addStrings({
  "zh-CN": {
    "stats.title": "月统计分析",
    "stats.site": "项目",
    "stats.month": "月份",
    "stats.prev_month": "上个月",
    "stats.next_month": "下个月",
    "stats.loading": "正在统计…",
    "stats.failed": "统计暂时无法加载",
    "stats.offline": "离线：连上服务器后才能查看统计",
    "stats.not_for_role": "月统计供信息处理员（客服助理）和主管使用",
    "stats.scope": "{site} · {month} 上报的工单（{tz}）",
    "stats.total": "本月工单",
    "stats.open": "未关闭",
    "stats.closed": "已关闭",
    "stats.escalated": "升级",
    "stats.satisfied_rate": "回访满意率",
    "stats.none": "—",
    "stats.by_department": "按部门",
    "stats.by_source": "按来源",
    "stats.by_status": "按状态",
    "stats.count": "件数",
    "stats.share": "占比",
    "stats.on_time": "各环节按时率",
    "stats.step": "环节",
    "stats.step.dispatch": "派工（24 小时内）",
    "stats.step.arrange": "安排人员（派工后 2 小时内）",
    "stats.step.report": "反馈结果（派工后 4 小时内）",
    "stats.step.return": "暂缓后回复（2 个工作日内）",
    "stats.on_time_n": "按时",
    "stats.late_n": "超时完成",
    "stats.overdue_n": "超时未完成",
    "stats.percent": "按时率",
    "stats.durations": "用时",
    "stats.duration.arrange": "派工 → 接单",
    "stats.duration.report": "派工 → 反馈结果",
    "stats.duration.close": "上报 → 关闭",
    "stats.done_n": "已完成",
    "stats.median": "中位数",
    "stats.p90": "90% 在此之内",
    "stats.escalations": "升级",
    "stats.escalated_head": "升级至部门主管",
    "stats.escalated_manager": "升级至经理",
    "stats.satisfaction": "业主回访",
    "stats.answer.satisfied": "满意",
    "stats.answer.acceptable": "基本满意",
    "stats.answer.dissatisfied": "不满意",
    "stats.answered": "已回访",
    "stats.no_answers": "本月还没有回访记录",
    "stats.export": "导出工单（Excel）",
    "stats.export_hint": "按上报日期导出，每单一行，含各环节时间和是否按时；最长 366 天。",
    "stats.from": "从",
    "stats.to": "到",
    "stats.download": "下载 Excel",
    "stats.bad_range": "结束日期不能早于开始日期",
    "stats.range_too_long": "一次最多导出 366 天",
    "stats.print": "打印",
    "stats.undispatched": "未派工",
  },
  en: {
    "stats.title": "Monthly statistics",
    "stats.site": "Site",
    "stats.month": "Month",
    "stats.prev_month": "Previous month",
    "stats.next_month": "Next month",
    "stats.loading": "Counting…",
    "stats.failed": "Statistics cannot be loaded right now",
    "stats.offline": "Offline: statistics need the server",
    "stats.not_for_role": "Monthly statistics are for dispatchers and managers",
    "stats.scope": "{site} · orders raised in {month} ({tz})",
    "stats.total": "Orders this month",
    "stats.open": "Open",
    "stats.closed": "Closed",
    "stats.escalated": "Escalated",
    "stats.satisfied_rate": "Satisfied (follow-up)",
    "stats.none": "—",
    "stats.by_department": "By department",
    "stats.by_source": "By source",
    "stats.by_status": "By status",
    "stats.count": "Orders",
    "stats.share": "Share",
    "stats.on_time": "On time, step by step",
    "stats.step": "Step",
    "stats.step.dispatch": "Dispatch (within 24 h)",
    "stats.step.arrange": "Arrange a worker (2 h after dispatch)",
    "stats.step.report": "Report the result (4 h after dispatch)",
    "stats.step.return": "Back after deferral (2 working days)",
    "stats.on_time_n": "On time",
    "stats.late_n": "Done late",
    "stats.overdue_n": "Overdue, open",
    "stats.percent": "On time %",
    "stats.durations": "Time taken",
    "stats.duration.arrange": "Dispatch → accepted",
    "stats.duration.report": "Dispatch → reported",
    "stats.duration.close": "Raised → closed",
    "stats.done_n": "Done",
    "stats.median": "Median",
    "stats.p90": "90% within",
    "stats.escalations": "Escalations",
    "stats.escalated_head": "To the department head",
    "stats.escalated_manager": "To the manager",
    "stats.satisfaction": "Owner follow-up",
    "stats.answer.satisfied": "Satisfied",
    "stats.answer.acceptable": "Acceptable",
    "stats.answer.dissatisfied": "Dissatisfied",
    "stats.answered": "Called back",
    "stats.no_answers": "No follow-up calls recorded this month",
    "stats.export": "Export orders (Excel)",
    "stats.export_hint": "By the day raised, one row per order with its step times and whether each was on time; at most 366 days.",
    "stats.from": "From",
    "stats.to": "To",
    "stats.download": "Download Excel",
    "stats.bad_range": "The end date cannot be before the start date",
    "stats.range_too_long": "At most 366 days at a time",
    "stats.print": "Print",
    "stats.undispatched": "Not dispatched",
  },
});

/** Today as YYYY-MM-DD at the site (its time zone, not the browser's). */
function today(site) {
  return siteClock(new Date().toISOString(), site?.timezone || "Asia/Shanghai").day;
}

function shiftMonth(month, delta) {
  const [y, m] = month.split("-").map(Number);
  const index = y * 12 + (m - 1) + delta;
  return `${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, "0")}`;
}

function lastDayOf(month) {
  const [y, m] = month.split("-").map(Number);
  return `${month}-${String(new Date(Date.UTC(y, m, 0)).getUTCDate()).padStart(2, "0")}`;
}

function percentText(value) {
  return value === null || value === undefined ? t("stats.none") : `${Number(value).toFixed(1)}%`;
}

function durationText(seconds) {
  return seconds === null || seconds === undefined ? t("stats.none") : formatDuration(seconds);
}

/** A table with a header row; `rows` are arrays of cells (strings or nodes). */
function table(testid, headers, rows, { numeric = [] } = {}) {
  return h("div", { class: "stats-table-wrap" },
    h("table", { class: "stats-table", "data-testid": testid },
      h("thead", null, h("tr", null, headers.map((text, i) =>
        h("th", { scope: "col", class: numeric.includes(i) ? "num" : null }, text)))),
      h("tbody", null, rows.map(({ cells, attrs }) => h("tr", attrs || null,
        cells.map((cell, i) => (i === 0
          ? h("th", { scope: "row" }, cell)
          : h("td", { class: numeric.includes(i) ? "num" : null }, cell))))))));
}

/** A bar with its number, coloured by how good it is (good ≥ 90 %, fair ≥ 70 %, else poor). */
function percentBar(value, testid) {
  if (value === null || value === undefined) {
    return h("span", { class: "stats-bar is-empty", "data-testid": testid }, t("stats.none"));
  }
  const tone = value >= 90 ? "good" : value >= 70 ? "fair" : "poor";
  return h("span", { class: `stats-bar tone-${tone}`, "data-testid": testid },
    h("span", { class: "stats-bar-track", "aria-hidden": "true" },
      h("span", { class: "stats-bar-fill", style: `width: ${Math.max(0, Math.min(100, value))}%` })),
    h("strong", { class: "stats-bar-text" }, percentText(value)));
}

function section(title, ...body) {
  return h("section", { class: "card stats-section" }, h("h2", { class: "section-title" }, title), body);
}

/** @param {import("../app.js").Ctx} ctx */
export function render(ctx) {
  const screen = h("section", { class: "desk stats", "data-testid": "stats-screen" },
    h("div", { class: "stats-heading" },
      h("h1", { class: "page-title" }, t("stats.title")),
      h("button", { type: "button", class: "btn btn-secondary btn-small no-print", "data-testid": "stats-print",
        onclick: () => window.print() }, t("stats.print"))));
  if (!DESK_ROLES.includes(ctx.me.role)) {
    screen.append(h("p", { class: "muted", "data-testid": "stats-not-for-role" }, t("stats.not_for_role")));
    return screen;
  }
  const sites = ctx.me.sites || [];
  const q = new URLSearchParams(location.search);
  let site = sites.find((s) => String(s.id) === q.get("site")) || ctx.site;
  if (!site) {
    screen.append(h("p", { class: "muted" }, t("home.no_site")));
    return screen;
  }
  let month = /^\d{4}-(0[1-9]|1[0-2])$/.test(q.get("month") || "") ? q.get("month") : today(site).slice(0, 7);

  const body = h("div", { class: "stats-body", "aria-live": "polite", "data-testid": "stats-body" });
  const monthInput = h("input", { class: "input", type: "month", id: "stats-month", "data-testid": "stats-month",
    value: month, required: true, onchange: () => {
      if (/^\d{4}-\d{2}$/.test(monthInput.value)) setMonth(monthInput.value);
    } });

  function writeQuery() {
    history.replaceState(null, "", `${location.pathname}?${new URLSearchParams({ site: String(site.id), month })}`);
  }

  function setMonth(value) {
    month = value;
    monthInput.value = value;
    writeQuery();
    load();
    exportForm.follow(month);
  }

  const controls = h("form", { class: "card desk-filters stats-controls no-print", onsubmit: (e) => e.preventDefault() });
  const grid = h("div", { class: "stats-control-row" });
  if (sites.length > 1) {
    const siteSelect = h("select", { class: "input", id: "stats-site", "data-testid": "stats-site",
      onchange: () => {
        site = sites.find((s) => String(s.id) === siteSelect.value) || site;
        writeQuery();
        load();
        exportForm.update();
      } }, sites.map((s) => h("option", { value: String(s.id), selected: s.id === site.id }, s.name)));
    grid.append(h("div", { class: "field" },
      h("label", { class: "field-label", for: "stats-site" }, t("stats.site")), siteSelect));
  }
  grid.append(h("div", { class: "field stats-month-field" },
    h("label", { class: "field-label", for: "stats-month" }, t("stats.month")),
    h("div", { class: "stats-month-row" },
      h("button", { type: "button", class: "btn btn-secondary", "data-testid": "stats-prev",
        "aria-label": t("stats.prev_month"), onclick: () => setMonth(shiftMonth(month, -1)) }, "‹"),
      monthInput,
      h("button", { type: "button", class: "btn btn-secondary", "data-testid": "stats-next",
        "aria-label": t("stats.next_month"), onclick: () => setMonth(shiftMonth(month, 1)) }, "›"))));
  controls.append(grid);

  const exportForm = makeExportForm(() => site, month);
  screen.append(controls, body, exportForm.el);

  let generation = 0;
  async function load() {
    const mine = ++generation;
    body.replaceChildren(h("p", { class: "muted" }, t("stats.loading")));
    try {
      const stats = await api(`/api/work-orders/stats?${new URLSearchParams({ site: String(site.id), month })}`);
      if (mine !== generation) return;
      body.replaceChildren(...draw(stats, site));
    } catch (error) {
      if (mine !== generation) return;
      body.replaceChildren(h("p", { class: "form-error", "data-testid": "stats-error" },
        error instanceof NetworkError ? t("stats.offline") : error.message || t("stats.failed")));
    }
  }

  writeQuery();
  load();
  return screen;
}

function draw(stats, site) {
  const total = stats.total;
  const share = (n) => (total ? `${Math.round((n / total) * 100)}%` : t("stats.none"));
  const monthLabel = new Date(`${stats.month}-15T00:00:00Z`).toLocaleDateString(getLang(),
    { timeZone: "UTC", year: "numeric", month: "long" });
  const escalated = stats.escalations.department_head;
  const satisfaction = stats.satisfaction;

  const figure = (testid, label, value, tone = "") => h("div", { class: `stats-figure${tone ? ` tone-${tone}` : ""}` },
    h("span", { class: "label" }, label),
    h("strong", { class: "stats-figure-value", "data-testid": testid }, String(value)));

  const figures = h("div", { class: "stats-figures", "data-testid": "stats-figures" },
    figure("stats-total", t("stats.total"), total),
    figure("stats-open", t("stats.open"), stats.open, stats.open ? "warn" : ""),
    figure("stats-closed", t("stats.closed"), stats.by_status.closed),
    figure("stats-escalated", t("stats.escalated"), escalated, escalated ? "bad" : ""),
    figure("stats-satisfied", t("stats.satisfied_rate"), percentText(satisfaction.percent_satisfied)));

  const departments = table("stats-by-department", [t("stats.by_department"), t("stats.count"), t("stats.share")],
    stats.by_department.map((d) => ({
      attrs: { "data-department": d.department || "", "data-count": String(d.count) },
      cells: [d.department ? departmentName(d.department) : t("stats.undispatched"), String(d.count), share(d.count)],
    })), { numeric: [1, 2] });

  const sources = table("stats-by-source", [t("stats.by_source"), t("stats.count"), t("stats.share")],
    SOURCES.map((s) => ({
      attrs: { "data-source": s, "data-count": String(stats.by_source[s] ?? 0) },
      cells: [h("span", { class: "stats-source" }, sourceIcon(s), t(`desk.source.${s}`)),
        String(stats.by_source[s] ?? 0), share(stats.by_source[s] ?? 0)],
    })), { numeric: [1, 2] });

  const statuses = table("stats-by-status", [t("stats.by_status"), t("stats.count"), t("stats.share")],
    STATUSES.map((s) => ({
      attrs: { "data-status": s, "data-count": String(stats.by_status[s] ?? 0) },
      cells: [t(`desk.status.${s}`), String(stats.by_status[s] ?? 0), share(stats.by_status[s] ?? 0)],
    })), { numeric: [1, 2] });

  const onTime = table("stats-on-time",
    [t("stats.step"), t("stats.on_time_n"), t("stats.late_n"), t("stats.overdue_n"), t("stats.percent")],
    STEPS.map((step) => {
      const tally = stats.on_time[step];
      return {
        attrs: { "data-step": step },
        cells: [t(`stats.step.${step}`), String(tally.on_time), String(tally.late), String(tally.overdue),
          percentBar(tally.percent, `stats-percent-${step}`)],
      };
    }), { numeric: [1, 2, 3] });

  const durations = table("stats-durations",
    [t("stats.durations"), t("stats.done_n"), t("stats.median"), t("stats.p90")],
    DURATIONS.map((name) => {
      const d = stats.durations[name];
      return {
        attrs: { "data-duration": name },
        cells: [t(`stats.duration.${name}`), String(d.count), durationText(d.median_seconds),
          durationText(d.p90_seconds)],
      };
    }), { numeric: [1, 2, 3] });

  const escalations = table("stats-escalations", [t("stats.escalations"), t("stats.count")], [
    { cells: [t("stats.escalated_head"), String(stats.escalations.department_head)] },
    { cells: [t("stats.escalated_manager"), String(stats.escalations.manager)] },
  ], { numeric: [1] });

  const answers = satisfaction.answered
    ? table("stats-satisfaction", [t("stats.satisfaction"), t("stats.count")], [
      ...ANSWERS.map((a) => ({ cells: [t(`stats.answer.${a}`), String(satisfaction[a])] })),
      { cells: [t("stats.answered"), String(satisfaction.answered)] },
      { cells: [t("stats.satisfied_rate"), percentText(satisfaction.percent_satisfied)] },
    ], { numeric: [1] })
    : h("p", { class: "muted", "data-testid": "stats-no-answers" }, t("stats.no_answers"));

  return [
    h("p", { class: "muted stats-scope", "data-testid": "stats-scope" },
      t("stats.scope", { site: site.name, month: monthLabel, tz: stats.timezone })),
    figures,
    h("div", { class: "stats-grid stats-counts" }, section(t("stats.by_department"), departments),
      section(t("stats.by_source"), sources), section(t("stats.by_status"), statuses)),
    section(t("stats.on_time"), onTime),
    h("div", { class: "stats-grid" }, section(t("stats.durations"), durations),
      section(t("stats.escalations"), escalations), section(t("stats.satisfaction"), answers)),
  ];
}

/** The export: a date range (this month by default) and a link the browser downloads by itself. */
function makeExportForm(getSite, month) {
  // The range is the month shown until the person picks dates of their own.
  let chosen = false;
  const edited = () => {
    chosen = true;
    update();
  };
  const from = h("input", { class: "input", type: "date", id: "stats-from", "data-testid": "stats-from",
    oninput: edited });
  const to = h("input", { class: "input", type: "date", id: "stats-to", "data-testid": "stats-to",
    oninput: edited });

  function follow(shown) {
    if (chosen) return;
    from.value = `${shown}-01`;
    const now = today(getSite());
    to.value = shown === now.slice(0, 7) ? now : lastDayOf(shown);
    update();
  }
  const link = h("a", { class: "btn btn-primary", "data-testid": "stats-export", download: "" }, t("stats.download"));
  const problem = h("p", { class: "form-error", "data-testid": "stats-export-error", hidden: true });

  function update() {
    const valid = /^\d{4}-\d{2}-\d{2}$/.test(from.value) && /^\d{4}-\d{2}-\d{2}$/.test(to.value);
    const days = valid ? (Date.parse(to.value) - Date.parse(from.value)) / 86_400_000 + 1 : 0;
    const ok = valid && days >= 1 && days <= MAX_EXPORT_DAYS;
    problem.hidden = ok || !valid;
    problem.textContent = t(days < 1 ? "stats.bad_range" : "stats.range_too_long");
    if (ok) {
      link.setAttribute("href", `/api/work-orders/export.xlsx?${new URLSearchParams(
        { site: String(getSite().id), from: from.value, to: to.value })}`);
      link.removeAttribute("aria-disabled");
    } else {
      link.removeAttribute("href");
      link.setAttribute("aria-disabled", "true");
    }
  }
  follow(month);

  const el = h("section", { class: "card stats-section stats-export no-print", "data-testid": "stats-export-form" },
    h("h2", { class: "section-title" }, t("stats.export")),
    h("p", { class: "muted" }, t("stats.export_hint")),
    h("div", { class: "stats-export-row" },
      h("div", { class: "field" }, h("label", { class: "field-label", for: "stats-from" }, t("stats.from")), from),
      h("div", { class: "field" }, h("label", { class: "field-label", for: "stats-to" }, t("stats.to")), to),
      link),
    problem);
  return { el, update, follow };
}
