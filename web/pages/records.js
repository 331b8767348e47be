// Patrol records (巡视记录): the daily 综合巡视记录表 of one person or of the whole site, laid out
// like the paper form — time, place, checkpoint, result (合格 / 不合格 with the failed items), the
// work orders raised, notes — with the day's planned rounds and a signature line; printable on A4
// landscape (only the form prints) and exported as Excel through a plain download link. The desk
// (dispatcher, manager, admin) picks any person or the whole site and has a second tab: the month
// by building or by person. Everyone else sees their own day only.
// API: GET /api/patrol-records/daily(.xlsx)?site=&day=&user=, /monthly(.xlsx)?site=&month=&by=.

import { api, NetworkError } from "../api.js";
import { h } from "../dom.js";
import { addStrings, getLang, t } from "../i18n.js";
import { siteClock } from "./coverage.js";

const DESK_ROLES = ["dispatcher", "manager", "admin"];

addStrings({
  "zh-CN": {
    "tile.records": "巡视记录",
    "rec.title": "巡视记录",
    "rec.tab.daily": "日巡视记录",
    "rec.tab.monthly": "月度汇总",
    "rec.form_title": "综合巡视记录表",
    "rec.month_title": "巡视月度汇总表（按{by}）",
    "rec.site": "小区",
    "rec.day": "日期",
    "rec.month": "月份",
    "rec.person": "巡视人",
    "rec.everyone": "全部人员",
    "rec.prev_day": "前一天",
    "rec.next_day": "后一天",
    "rec.prev_month": "上个月",
    "rec.next_month": "下个月",
    "rec.print": "打印",
    "rec.export": "导出 Excel",
    "rec.loading": "正在加载…",
    "rec.offline": "离线：连上服务器后才能查看巡视记录",
    "rec.failed": "巡视记录暂时无法加载",
    "rec.col.no": "序号",
    "rec.col.time": "时间",
    "rec.col.inspector": "巡视人",
    "rec.col.place": "楼栋/楼层",
    "rec.col.checkpoint": "巡视部位（点位）",
    "rec.col.result": "巡视结果",
    "rec.col.problems": "发现问题",
    "rec.col.orders": "处理情况（派工单）",
    "rec.col.note": "备注",
    "rec.pass": "合格",
    "rec.fail": "不合格",
    "rec.manual": "手工录入",
    "rec.hand_order": "报修",
    "rec.owner_order": "业主报修",
    "rec.manual_order": "手工报修",
    "rec.no_checks": "这一天没有巡检记录",
    "rec.rounds": "计划巡视：应巡 {expected} 次，按时 {done}，迟到 {late}，手工录入 {unverified}，漏巡 {missed}，未到期 {pending}，按时率 {rate}",
    "rec.no_rounds": "这一天没有计划巡视",
    "rec.totals": "合计：巡检 {checks} 次，不合格 {failed} 次，派工单 {orders} 张",
    "rec.truncated": "这一天的记录太多，只列出前 5000 条",
    "rec.sign_patrol": "巡视人签字",
    "rec.sign_lead": "主管签字",
    "rec.sign_date": "日期",
    "rec.by": "统计方式",
    "rec.by.building": "楼栋",
    "rec.by.person": "人员",
    "rec.m.expected": "应巡次数",
    "rec.m.done": "按时",
    "rec.m.late": "迟到",
    "rec.m.unverified": "手工录入",
    "rec.m.missed": "漏巡",
    "rec.m.pending": "未到期",
    "rec.m.rate": "按时率",
    "rec.m.checks": "巡检次数",
    "rec.m.failed": "不合格",
    "rec.m.orders": "报修工单",
    "rec.m.total": "合计",
    "rec.m.other_place": "其他区域",
    "rec.m.anyone": "任何人",
    "rec.m.empty": "这个月没有计划巡视或巡检记录",
    "rec.m.person_note": "按人员统计时，漏巡与未到期计入计划的每位巡视人，各行之和可能大于合计。",
    "rec.none": "—",
  },
  en: {
    "tile.records": "Patrol records",
    "rec.title": "Patrol records",
    "rec.tab.daily": "Daily record",
    "rec.tab.monthly": "Monthly summary",
    "rec.form_title": "Daily patrol record",
    "rec.month_title": "Monthly patrol summary (by {by})",
    "rec.site": "Site",
    "rec.day": "Date",
    "rec.month": "Month",
    "rec.person": "Patrolled by",
    "rec.everyone": "Everyone",
    "rec.prev_day": "Previous day",
    "rec.next_day": "Next day",
    "rec.prev_month": "Previous month",
    "rec.next_month": "Next month",
    "rec.print": "Print",
    "rec.export": "Export Excel",
    "rec.loading": "Loading…",
    "rec.offline": "Offline: patrol records need the server",
    "rec.failed": "Patrol records cannot be loaded right now",
    "rec.col.no": "No.",
    "rec.col.time": "Time",
    "rec.col.inspector": "By",
    "rec.col.place": "Building / floor",
    "rec.col.checkpoint": "Checkpoint",
    "rec.col.result": "Result",
    "rec.col.problems": "Problems found",
    "rec.col.orders": "Action (work orders)",
    "rec.col.note": "Notes",
    "rec.pass": "Pass",
    "rec.fail": "Fail",
    "rec.manual": "Typed code",
    "rec.hand_order": "Report",
    "rec.owner_order": "Owner's report",
    "rec.manual_order": "Raised by hand",
    "rec.no_checks": "No checks on this day",
    "rec.rounds": "Planned rounds: {expected} expected, {done} on time, {late} late, {unverified} typed, {missed} missed, {pending} not due yet; on time {rate}",
    "rec.no_rounds": "No planned rounds on this day",
    "rec.totals": "Total: {checks} checks, {failed} failed, {orders} work orders",
    "rec.truncated": "Too many checks on this day: only the first 5,000 are listed",
    "rec.sign_patrol": "Patrol's signature",
    "rec.sign_lead": "Supervisor's signature",
    "rec.sign_date": "Date",
    "rec.by": "By",
    "rec.by.building": "building",
    "rec.by.person": "person",
    "rec.m.expected": "Expected",
    "rec.m.done": "On time",
    "rec.m.late": "Late",
    "rec.m.unverified": "Typed",
    "rec.m.missed": "Missed",
    "rec.m.pending": "Not due",
    "rec.m.rate": "On time %",
    "rec.m.checks": "Checks",
    "rec.m.failed": "Failed",
    "rec.m.orders": "Work orders",
    "rec.m.total": "Total",
    "rec.m.other_place": "Grounds",
    "rec.m.anyone": "Anyone",
    "rec.m.empty": "No planned rounds or checks this month",
    "rec.m.person_note": "By person, missed and not-due rounds count for every person of the plan, so rows may add up to more than the total.",
    "rec.none": "—",
  },
});

const STATUS = {
  raised: ["待派工", "raised"],
  dispatched: ["已派工", "dispatched"],
  arranged: ["已安排", "arranged"],
  deferred: ["延期", "deferred"],
  reported: ["已完工", "reported"],
  verified: ["已验收", "verified"],
  closed: ["已关闭", "closed"],
};

function statusText(status) {
  const pair = STATUS[status];
  if (!pair) return status;
  return getLang() === "en" ? pair[1] : pair[0];
}

const pad = (n) => String(n).padStart(2, "0");

/** Today at the site (its time zone, not the browser's). */
function siteToday(site) {
  return siteClock(new Date().toISOString(), site.timezone || "Asia/Shanghai").day;
}

function shiftDay(day, delta) {
  const d = new Date(`${day}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + delta);
  return d.toISOString().slice(0, 10);
}

function shiftMonth(month, delta) {
  const [y, m] = month.split("-").map(Number);
  const index = y * 12 + (m - 1) + delta;
  return `${Math.floor(index / 12)}-${pad((index % 12) + 1)}`;
}

function rate(value) {
  return value === null || value === undefined ? t("rec.none") : `${(value * 100).toFixed(1)}%`;
}

/** A table cell that stacks on a phone with its column's name before it. */
function cell(label, content, cls) {
  return h("td", { "data-label": label, class: cls || null }, content);
}

/** @param {import("../app.js").Ctx} ctx */
export function render(ctx) {
  const me = ctx.me;
  const desk = DESK_ROLES.includes(me.role);
  const screen = h("section", { class: "records", "data-testid": "records-screen" });
  const sites = me.sites || [];
  const q = new URLSearchParams(location.search);
  let site = sites.find((s) => String(s.id) === q.get("site")) || ctx.site;
  screen.append(h("h1", { class: "page-title no-print" }, t("rec.title")));
  if (!site) {
    screen.append(h("p", { class: "muted" }, t("home.no_site")));
    return screen;
  }
  const state = {
    tab: desk && q.get("tab") === "monthly" ? "monthly" : "daily",
    day: /^\d{4}-\d{2}-\d{2}$/.test(q.get("day") || "") ? q.get("day") : siteToday(site),
    user: desk ? (q.get("user") ? Number(q.get("user")) : null) : me.id,
    month: /^\d{4}-(0[1-9]|1[0-2])$/.test(q.get("month") || "") ? q.get("month") : siteToday(site).slice(0, 7),
    by: q.get("by") === "person" ? "person" : "building",
    people: new Map(),
  };

  function writeQuery() {
    const params = { site: String(site.id), tab: state.tab };
    if (state.tab === "daily") {
      params.day = state.day;
      if (desk && state.user) params.user = String(state.user);
    } else {
      params.month = state.month;
      params.by = state.by;
    }
    history.replaceState(null, "", `${location.pathname}?${new URLSearchParams(params)}`);
  }

  const tabs = h("div", { class: "records-tabs no-print", role: "tablist" });
  const controls = h("form", { class: "card records-controls no-print", "data-testid": "records-controls",
    onsubmit: (e) => e.preventDefault() });
  const body = h("div", { class: "records-body", "aria-live": "polite", "data-testid": "records-body" });

  if (desk) {
    for (const name of ["daily", "monthly"]) {
      tabs.append(h("button", { type: "button", role: "tab", class: "records-tab", "data-testid": `records-tab-${name}`,
        "aria-selected": String(state.tab === name),
        onclick: () => {
          state.tab = name;
          for (const b of tabs.children) b.setAttribute("aria-selected", String(b.dataset.testid === `records-tab-${name}`));
          drawControls();
          load();
        } }, t(`rec.tab.${name}`)));
    }
    screen.append(tabs);
  }
  screen.append(controls, body);

  const printButton = () => h("button", { type: "button", class: "btn btn-secondary", "data-testid": "records-print",
    onclick: () => window.print() }, t("rec.print"));
  const exportLink = h("a", { class: "btn btn-primary", "data-testid": "records-export", download: "" }, t("rec.export"));

  function siteField() {
    if (sites.length < 2) return null;
    const select = h("select", { class: "input", id: "rec-site", "data-testid": "records-site",
      onchange: () => {
        site = sites.find((s) => String(s.id) === select.value) || site;
        state.people = new Map();
        load();
      } }, sites.map((s) => h("option", { value: String(s.id), selected: s.id === site.id }, s.name)));
    return h("div", { class: "field" }, h("label", { class: "field-label", for: "rec-site" }, t("rec.site")), select);
  }

  let personSelect = null;
  function drawControls() {
    controls.replaceChildren();
    const row = h("div", { class: "records-control-row" });
    if (state.tab === "daily") {
      const dayInput = h("input", { class: "input", type: "date", id: "rec-day", "data-testid": "records-day",
        value: state.day, required: true, onchange: () => {
          if (/^\d{4}-\d{2}-\d{2}$/.test(dayInput.value)) { state.day = dayInput.value; load(); }
        } });
      const step = (delta) => { state.day = shiftDay(state.day, delta); dayInput.value = state.day; load(); };
      row.append(...[siteField()].filter(Boolean), h("div", { class: "field" },
        h("label", { class: "field-label", for: "rec-day" }, t("rec.day")),
        h("div", { class: "records-step-row" },
          h("button", { type: "button", class: "btn btn-secondary", "aria-label": t("rec.prev_day"),
            "data-testid": "records-prev", onclick: () => step(-1) }, "‹"),
          dayInput,
          h("button", { type: "button", class: "btn btn-secondary", "aria-label": t("rec.next_day"),
            "data-testid": "records-next", onclick: () => step(1) }, "›"))));
      if (desk) {
        personSelect = h("select", { class: "input", id: "rec-person", "data-testid": "records-person",
          onchange: () => { state.user = personSelect.value ? Number(personSelect.value) : null; load(); } });
        fillPeople();
        row.append(h("div", { class: "field" },
          h("label", { class: "field-label", for: "rec-person" }, t("rec.person")), personSelect));
      }
    } else {
      const monthInput = h("input", { class: "input", type: "month", id: "rec-month", "data-testid": "records-month",
        value: state.month, required: true, onchange: () => {
          if (/^\d{4}-\d{2}$/.test(monthInput.value)) { state.month = monthInput.value; load(); }
        } });
      const step = (delta) => { state.month = shiftMonth(state.month, delta); monthInput.value = state.month; load(); };
      const bySelect = h("select", { class: "input", id: "rec-by", "data-testid": "records-by",
        onchange: () => { state.by = bySelect.value; load(); } },
      ["building", "person"].map((b) => h("option", { value: b, selected: b === state.by }, t(`rec.by.${b}`))));
      row.append(...[siteField()].filter(Boolean), h("div", { class: "field" },
        h("label", { class: "field-label", for: "rec-month" }, t("rec.month")),
        h("div", { class: "records-step-row" },
          h("button", { type: "button", class: "btn btn-secondary", "aria-label": t("rec.prev_month"),
            onclick: () => step(-1) }, "‹"),
          monthInput,
          h("button", { type: "button", class: "btn btn-secondary", "aria-label": t("rec.next_month"),
            onclick: () => step(1) }, "›"))),
      h("div", { class: "field" }, h("label", { class: "field-label", for: "rec-by" }, t("rec.by")), bySelect));
    }
    controls.append(row, h("div", { class: "records-actions" }, printButton(), exportLink));
  }

  function fillPeople() {
    if (!personSelect) return;
    const people = [...state.people.entries()].sort((a, b) => a[1].localeCompare(b[1], "zh-CN"));
    if (state.user && !state.people.has(state.user)) people.push([state.user, `#${state.user}`]);
    personSelect.replaceChildren(
      h("option", { value: "", selected: !state.user }, t("rec.everyone")),
      ...people.map(([id, name]) => h("option", { value: String(id), selected: id === state.user }, name)));
  }

  /** The people to pick from: who checked that day and who had rounds that day. */
  async function learnPeople(record) {
    let changed = false;
    for (const check of record.checks) {
      if (!state.people.has(check.inspector.id)) { state.people.set(check.inspector.id, check.inspector.name); changed = true; }
    }
    if (record.person && !state.people.has(record.person.id)) {
      state.people.set(record.person.id, record.person.name);
      changed = true;
    }
    try {
      const report = await api(`/api/compliance?${new URLSearchParams({ site: String(site.id), from: record.day,
        to: record.day, group_by: "person" })}`);
      for (const row of report.rows) {
        if (row.key !== null && !state.people.has(row.key)) { state.people.set(row.key, row.label); changed = true; }
      }
    } catch {
      // The list is a convenience; the record itself is shown either way.
    }
    if (changed) fillPeople();
  }

  let generation = 0;
  async function load() {
    const mine = ++generation;
    writeQuery();
    body.replaceChildren(h("p", { class: "muted" }, t("rec.loading")));
    exportLink.removeAttribute("href");
    try {
      if (state.tab === "daily") {
        const params = { site: String(site.id), day: state.day };
        if (state.user) params.user = String(state.user);
        const query = new URLSearchParams(params);
        const record = await api(`/api/patrol-records/daily?${query}`);
        if (mine !== generation) return;
        exportLink.setAttribute("href", `/api/patrol-records/daily.xlsx?${query}`);
        body.replaceChildren(dailyForm(record));
        if (desk) learnPeople(record);
      } else {
        const query = new URLSearchParams({ site: String(site.id), month: state.month, by: state.by });
        const summary = await api(`/api/patrol-records/monthly?${query}`);
        if (mine !== generation) return;
        exportLink.setAttribute("href", `/api/patrol-records/monthly.xlsx?${query}`);
        body.replaceChildren(monthlyForm(summary));
      }
    } catch (error) {
      if (mine !== generation) return;
      body.replaceChildren(h("p", { class: "form-error", "data-testid": "records-error" },
        error instanceof NetworkError ? t("rec.offline") : error.message || t("rec.failed")));
    }
  }

  drawControls();
  load();
  return screen;
}

function dailyForm(record) {
  const cols = ["no", "time", "inspector", "place", "checkpoint", "result", "problems", "orders", "note"]
    .map((c) => t(`rec.col.${c}`));
  const rows = record.checks.map((check, i) => {
    const place = [check.building, check.floor].filter(Boolean).map((p) => p.name).join(" ");
    const problems = check.failed_items.map((item) => (item.note ? `${item.text}（${item.note}）` : item.text));
    const orders = check.work_orders.map((o) => `#${o.id} ${o.title}（${statusText(o.status)}）`);
    const note = [check.source === "manual" ? t("rec.manual") : "", check.note].filter(Boolean).join(" ");
    const failed = check.result === "fail";
    return h("tr", { "data-testid": "records-row", "data-result": check.result, class: failed ? "is-fail" : null },
      cell(cols[0], String(i + 1), "num"),
      cell(cols[1], check.local_time, "num"),
      cell(cols[2], check.inspector.name),
      cell(cols[3], place || t("rec.none")),
      cell(cols[4], h("span", null, h("span", { class: "records-code" }, check.checkpoint.code), " ", check.checkpoint.name)),
      cell(cols[5], h("strong", { class: failed ? "records-fail" : "records-pass" }, t(failed ? "rec.fail" : "rec.pass"))),
      cell(cols[6], problems.length ? problems.map((p) => h("div", null, p)) : ""),
      cell(cols[7], orders.length ? orders.map((o) => h("div", null, o)) : ""),
      cell(cols[8], note));
  });
  for (const order of record.hand_orders) {
    rows.push(h("tr", { "data-testid": "records-hand-order" },
      cell(cols[0], t("rec.hand_order"), "num"),
      cell(cols[1], order.local_time, "num"),
      cell(cols[2], order.raised_by ? order.raised_by.name : ""),
      cell(cols[3], ""), cell(cols[4], ""), cell(cols[5], ""),
      cell(cols[6], order.title),
      cell(cols[7], `#${order.id}（${statusText(order.status)}）`),
      cell(cols[8], t(order.source === "owner" ? "rec.owner_order" : "rec.manual_order"))));
  }
  const r = record.rounds;
  const who = record.person ? record.person.name : t("rec.everyone");
  return h("article", { class: "records-form", "data-testid": "records-form" },
    h("h2", { class: "records-form-title" }, t("rec.form_title")),
    h("p", { class: "records-meta", "data-testid": "records-meta" },
      h("span", null, `${t("rec.site")}：`, h("strong", null, record.site.name)),
      h("span", null, `${t("rec.day")}：`, h("strong", null, record.day)),
      h("span", null, `${t("rec.person")}：`, h("strong", { "data-testid": "records-who" }, who))),
    h("p", { class: "records-rounds", "data-testid": "records-rounds" }, r.expected
      ? t("rec.rounds", { ...r, rate: rate(r.on_time_rate) }) : t("rec.no_rounds")),
    record.truncated ? h("p", { class: "form-error" }, t("rec.truncated")) : null,
    h("div", { class: "records-table-wrap" },
      h("table", { class: "records-table", "data-testid": "records-table" },
        h("thead", null, h("tr", null, cols.map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, rows.length ? rows
          : h("tr", { class: "records-empty" }, h("td", { colspan: String(cols.length) }, t("rec.no_checks")))))),
    h("p", { class: "records-totals", "data-testid": "records-totals" }, t("rec.totals",
      { checks: record.totals.checks, failed: record.totals.failed, orders: record.totals.work_orders })),
    h("div", { class: "records-signatures" },
      h("span", null, `${t("rec.sign_patrol")}：`, h("span", { class: "records-sign-line" })),
      h("span", null, `${t("rec.sign_lead")}：`, h("span", { class: "records-sign-line" })),
      h("span", null, `${t("rec.sign_date")}：`, h("span", { class: "records-sign-line short" }))));
}

function monthlyForm(summary) {
  const by = t(`rec.by.${summary.by}`);
  const keys = ["expected", "done", "late", "unverified", "missed", "pending", "rate", "checks", "failed", "orders"];
  const cols = [by, ...keys.map((k) => t(`rec.m.${k}`))];
  const values = (row) => [row.expected, row.done, row.late, row.unverified, row.missed, row.pending,
    rate(row.on_time_rate), row.checks, row.failed_checks, row.work_orders].map(String);
  const line = (label, row, attrs) => h("tr", attrs,
    h("th", { scope: "row", "data-label": cols[0] }, label),
    values(row).map((v, i) => cell(cols[i + 1], v, "num")));
  const other = summary.by === "building" ? t("rec.m.other_place") : t("rec.m.anyone");
  const rows = summary.rows.map((row) => line(row.key === null ? other : row.label, row,
    { "data-testid": "records-month-row", "data-key": row.key === null ? "" : String(row.key) }));
  return h("article", { class: "records-form", "data-testid": "records-form" },
    h("h2", { class: "records-form-title" }, t("rec.month_title", { by })),
    h("p", { class: "records-meta" },
      h("span", null, `${t("rec.site")}：`, h("strong", null, summary.site.name)),
      h("span", null, `${t("rec.month")}：`, h("strong", null, `${summary.month}（${summary.from} – ${summary.to}）`))),
    rows.length ? h("div", { class: "records-table-wrap" },
      h("table", { class: "records-table records-month", "data-testid": "records-month-table" },
        h("thead", null, h("tr", null, cols.map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, rows),
        h("tfoot", null, line(t("rec.m.total"), summary.total, { "data-testid": "records-month-total" }))))
      : h("p", { class: "muted", "data-testid": "records-month-empty" }, t("rec.m.empty")),
    summary.by === "person" ? h("p", { class: "muted records-note" }, t("rec.m.person_note")) : null);
}
