// The renovation board (装修动态表): every unit of the site under renovation, by building and
// floor, with the permit's days left, each of the three departments' round today (客服 / 工程 /
// 保安) as a big mark — ✓ checked, ✗ missed, ○ not yet — with who checked last and when, and the
// unit's open / overdue violations. At the top: how many units each department has not inspected
// today. Building, floor and day live in the URL (?site=&building=&floor=&day=), so a link or a
// reload shows the same board; "today" refreshes itself every 60 s. Printable on A4 landscape for
// the floor's notice board (the controls are not printed).
//
// Data: GET /api/renovations/board (server/renovation_board.py) and GET /api/sites/{id}/buildings.

import { api, ApiError, NetworkError } from "../api.js";
import { h } from "../dom.js";
import { addStrings, getLang, t } from "../i18n.js";

const REFRESH_MS = 60_000;
export const DEPARTMENTS = ["customer_service", "engineering", "security"];
const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;
const INSPECTED = new Set(["done", "late", "unverified"]);
/** The mark of each status of the day (every status also has its words: never colour alone). */
export const MARKS = { done: "✓", late: "✓", unverified: "✓", missed: "✗", pending: "○", none: "–" };

addStrings({
  "zh-CN": {
    "rb.title": "装修动态表",
    "tile.renovation_board": "装修动态表",
    "rb.no_site": "您还没有分配项目",
    "rb.loading": "正在加载装修动态表…",
    "rb.failed": "装修动态表暂时无法加载",
    "rb.offline": "离线：连上服务器后才能查看装修动态表",
    "rb.day": "日期",
    "rb.building": "楼栋",
    "rb.floor": "楼层",
    "rb.all": "全部",
    "rb.print": "打印",
    "rb.refresh": "刷新",
    "rb.updated": "更新于 {time}",
    "rb.active": "在装 {n} 户",
    "rb.not_inspected": "{dept}今日未巡 {n} 户",
    "rb.none": "没有在装修的单元",
    "rb.unit": "单元",
    "rb.status": "状态",
    "rb.period": "有效期",
    "rb.days_left": "剩余",
    "rb.left": "{n} 天",
    "rb.overdue_days": "超期 {n} 天",
    "rb.violations": "违章",
    "rb.violations_value": "{open} 未改 / {overdue} 逾期",
    "rb.no_violations": "无",
    "rb.last": "{by} {time}",
    "rb.never": "未巡过",
    "rb.dept.customer_service": "客服",
    "rb.dept.engineering": "工程",
    "rb.dept.security": "保安",
    "rb.state.done": "已巡",
    "rb.state.late": "迟巡",
    "rb.state.unverified": "手输",
    "rb.state.missed": "漏巡",
    "rb.state.pending": "未巡",
    "rb.state.none": "无计划",
    "rb.st.permit_issued": "已发证",
    "rb.st.in_progress": "施工中",
    "rb.st.hidden_works_accepted": "隐蔽验收通过",
    "rb.st.completed": "已完工",
    "rb.legend": "✓ 已巡　✗ 漏巡　○ 未巡　– 无计划",
    "rb.printed": "打印于 {time}",
  },
  en: {
    "rb.title": "Renovation board",
    "tile.renovation_board": "Renovation board",
    "rb.no_site": "You have no site yet",
    "rb.loading": "Loading the renovation board…",
    "rb.failed": "The renovation board cannot be loaded right now",
    "rb.offline": "Offline: the board needs the server",
    "rb.day": "Day",
    "rb.building": "Building",
    "rb.floor": "Floor",
    "rb.all": "All",
    "rb.print": "Print",
    "rb.refresh": "Refresh",
    "rb.updated": "Updated {time}",
    "rb.active": "{n} units renovating",
    "rb.not_inspected": "{dept}: {n} not inspected today",
    "rb.none": "No unit is under renovation",
    "rb.unit": "Unit",
    "rb.status": "Status",
    "rb.period": "Permit",
    "rb.days_left": "Left",
    "rb.left": "{n} days",
    "rb.overdue_days": "{n} days over",
    "rb.violations": "Violations",
    "rb.violations_value": "{open} open / {overdue} overdue",
    "rb.no_violations": "None",
    "rb.last": "{by} {time}",
    "rb.never": "Never checked",
    "rb.dept.customer_service": "Customer service",
    "rb.dept.engineering": "Engineering",
    "rb.dept.security": "Security",
    "rb.state.done": "Checked",
    "rb.state.late": "Late",
    "rb.state.unverified": "Typed",
    "rb.state.missed": "Missed",
    "rb.state.pending": "Not yet",
    "rb.state.none": "Not planned",
    "rb.st.permit_issued": "Permit issued",
    "rb.st.in_progress": "In progress",
    "rb.st.hidden_works_accepted": "Hidden works accepted",
    "rb.st.completed": "Completed",
    "rb.legend": "✓ checked  ✗ missed  ○ not yet  – not planned",
    "rb.printed": "Printed {time}",
  },
});

/** The board's cell for one department: its mark, its words and its class. */
export function cellOf(status) {
  const s = status in MARKS ? status : "none";
  return { mark: MARKS[s], label: t(`rb.state.${s}`), inspected: INSPECTED.has(s), status: s };
}

/** Rows grouped by building then floor, in the server's order: [{key, title, rows}]. */
export function groupRows(rows) {
  const groups = [];
  let current = null;
  for (const row of rows) {
    const key = `${row.unit.building_id}:${row.unit.floor_id}`;
    if (!current || current.key !== key) {
      current = { key, title: [row.unit.building, row.unit.floor].filter(Boolean).join(" "), rows: [] };
      groups.push(current);
    }
    current.rows.push(row);
  }
  return groups;
}

function timeText(iso, timezone) {
  if (!iso) return "";
  const options = { timeZone: timezone, month: "numeric", day: "numeric", hour: "2-digit",
    minute: "2-digit", hourCycle: "h23" };
  try {
    return new Intl.DateTimeFormat(getLang() === "en" ? "en-GB" : "zh-CN", options).format(new Date(iso));
  } catch {
    return iso.slice(0, 16).replace("T", " ");
  }
}

function errorText(error) {
  if (error instanceof NetworkError) return t("rb.offline");
  if (error instanceof ApiError && error.message) return error.message;
  return t("rb.failed");
}

function intParam(value) {
  return /^\d+$/.test(value || "") ? Number(value) : null;
}

/** @param {import("../app.js").Ctx} ctx */
export function render(ctx) {
  const me = ctx.me || {};
  const sites = me.sites || [];
  const q = new URLSearchParams(location.search);
  const site = sites.find((s) => String(s.id) === q.get("site")) || ctx.site;
  const screen = h("section", { class: "rboard", "data-testid": "renovation-board" });
  const title = h("h1", { class: "page-title" }, t("rb.title"));
  screen.append(title);
  if (!site) {
    screen.append(h("p", { class: "muted" }, t("rb.no_site")));
    return screen;
  }
  const timezone = site.timezone || "Asia/Shanghai";
  const state = {
    building: intParam(q.get("building")),
    floor: intParam(q.get("floor")),
    day: DAY_RE.test(q.get("day") || "") ? q.get("day") : "",
    buildings: [],
    today: "",
  };

  const buildingSelect = h("select", { class: "input", id: "rb-building", "data-testid": "rb-building" });
  const floorSelect = h("select", { class: "input", id: "rb-floor", "data-testid": "rb-floor" });
  const dayInput = h("input", { type: "date", class: "input", id: "rb-day", "data-testid": "rb-day",
    value: state.day });
  const updated = h("span", { class: "muted", "data-testid": "rb-updated" });
  const controls = h("div", { class: "rboard-controls no-print" },
    h("div", { class: "field" }, h("label", { class: "field-label", for: "rb-building" }, t("rb.building")),
      buildingSelect),
    h("div", { class: "field" }, h("label", { class: "field-label", for: "rb-floor" }, t("rb.floor")),
      floorSelect),
    h("div", { class: "field" }, h("label", { class: "field-label", for: "rb-day" }, t("rb.day")), dayInput),
    h("div", { class: "rboard-buttons" },
      h("button", { type: "button", class: "btn btn-secondary", "data-testid": "rb-refresh",
        onclick: () => load() }, t("rb.refresh")),
      h("button", { type: "button", class: "btn btn-primary", "data-testid": "rb-print",
        onclick: () => window.print() }, t("rb.print"))),
    updated);
  const subtitle = h("p", { class: "rboard-subtitle", "data-testid": "rb-subtitle" });
  const totals = h("div", { class: "rboard-totals", "data-testid": "rb-totals", "aria-live": "polite" });
  const body = h("div", { class: "rboard-body", "data-testid": "rb-body", "aria-busy": "true" },
    h("p", { class: "muted" }, t("rb.loading")));
  const legend = h("p", { class: "rboard-legend muted" }, t("rb.legend"));
  screen.append(subtitle, controls, totals, body, legend);

  function setUrl() {
    const params = new URLSearchParams({ site: String(site.id) });
    if (state.building) params.set("building", String(state.building));
    if (state.floor) params.set("floor", String(state.floor));
    if (state.day) params.set("day", state.day);
    history.replaceState(null, "", `${location.pathname}?${params}`);
  }

  function drawFilters() {
    const option = (value, text, selected) => h("option", { value, selected: selected || null }, text);
    buildingSelect.replaceChildren(option("", t("rb.all"), !state.building),
      ...state.buildings.map((b) => option(String(b.id), b.name || b.code, b.id === state.building)));
    const building = state.buildings.find((b) => b.id === state.building);
    const floors = building ? building.floors || [] : [];
    floorSelect.replaceChildren(option("", t("rb.all"), !state.floor),
      ...floors.map((f) => option(String(f.id), f.name || String(f.level), f.id === state.floor)));
    floorSelect.disabled = !building;
  }

  buildingSelect.onchange = () => {
    state.building = intParam(buildingSelect.value);
    state.floor = null;
    drawFilters();
    setUrl();
    load();
  };
  floorSelect.onchange = () => {
    state.floor = intParam(floorSelect.value);
    setUrl();
    load();
  };
  dayInput.onchange = () => {
    state.day = DAY_RE.test(dayInput.value) ? dayInput.value : "";
    setUrl();
    load();
  };

  function departmentCell(row, department) {
    const info = row.departments?.[department] || {};
    const cell = cellOf(info.today);
    const last = info.last_at
      ? t("rb.last", { by: info.last_by?.display_name || "", time: timeText(info.last_at, timezone) })
      : t("rb.never");
    return h("td", {
      class: `rboard-cell rboard-${cell.status}`,
      "data-testid": `rb-cell-${row.permit_id}-${department}`,
      "data-status": cell.status,
    },
    h("span", { class: "rboard-cell-dept" }, t(`rb.dept.${department}`)),
    h("span", { class: "rboard-mark", "aria-hidden": "true" }, cell.mark),
    h("span", { class: "rboard-state" }, cell.label),
    h("span", { class: "rboard-last" }, last));
  }

  function leftText(row) {
    if (row.days_left < 0) return t("rb.overdue_days", { n: -row.days_left });
    return t("rb.left", { n: row.days_left });
  }

  function rowOf(row) {
    const v = row.violations || { open: 0, overdue: 0 };
    const unitName = row.unit.number || "";
    return h("tr", { "data-testid": `rb-row-${row.permit_id}`, "data-unit": unitName },
      h("th", { scope: "row", class: "rboard-unit" },
        h("a", { href: `/app/renovations/${row.permit_id}`, "data-testid": `rb-unit-${row.permit_id}` },
          unitName),
        row.owner_name ? h("span", { class: "rboard-owner" }, row.owner_name) : null),
      h("td", { class: "rboard-status" }, t(`rb.st.${row.status}`)),
      h("td", { class: "rboard-period" }, `${row.starts_on} – ${row.ends_on}`),
      h("td", {
        class: `rboard-left${row.days_left < 0 ? " is-overdue" : row.days_left <= 7 ? " is-soon" : ""}`,
        "data-testid": `rb-left-${row.permit_id}`,
      }, leftText(row)),
      DEPARTMENTS.map((d) => departmentCell(row, d)),
      h("td", {
        class: `rboard-violations${v.overdue ? " is-overdue" : v.open ? " is-open" : ""}`,
        "data-testid": `rb-violations-${row.permit_id}`,
        "data-open": String(v.open), "data-overdue": String(v.overdue),
      }, h("span", { class: "rboard-inline-label" }, t("rb.violations")), v.open
        ? h("a", { href: `/app/violations?permit=${row.permit_id}` },
          t("rb.violations_value", { open: v.open, overdue: v.overdue }))
        : t("rb.no_violations")));
  }

  function draw(data) {
    state.today = data.day;
    if (!state.day) dayInput.value = data.day;
    const where = [site.name];
    const building = state.buildings.find((b) => b.id === data.building);
    if (building) where.push(building.name || building.code);
    const floor = building?.floors?.find((f) => f.id === data.floor);
    if (floor) where.push(floor.name);
    subtitle.textContent = `${where.filter(Boolean).join(" · ")} · ${data.day}`;
    const notInspected = data.totals?.not_inspected_today || {};
    totals.replaceChildren(
      h("div", { class: "rboard-total rboard-total-active", "data-testid": "rb-total-active" },
        t("rb.active", { n: data.totals?.active ?? data.rows.length })),
      ...DEPARTMENTS.map((d) => h("div", {
        class: `rboard-total${notInspected[d] ? " is-missing" : ""}`,
        "data-testid": `rb-total-${d}`, "data-count": String(notInspected[d] ?? 0),
      }, h("strong", null, String(notInspected[d] ?? 0)),
      h("span", null, t("rb.not_inspected", { dept: t(`rb.dept.${d}`), n: notInspected[d] ?? 0 })))));
    if (!data.rows.length) {
      body.replaceChildren(h("p", { class: "muted", "data-testid": "rb-empty" }, t("rb.none")));
      return;
    }
    const head = h("thead", null, h("tr", null,
      h("th", { scope: "col" }, t("rb.unit")),
      h("th", { scope: "col" }, t("rb.status")),
      h("th", { scope: "col" }, t("rb.period")),
      h("th", { scope: "col" }, t("rb.days_left")),
      DEPARTMENTS.map((d) => h("th", { scope: "col", class: "rboard-dept" }, t(`rb.dept.${d}`))),
      h("th", { scope: "col" }, t("rb.violations"))));
    body.replaceChildren(...groupRows(data.rows).map((group) => h("section", {
      class: "rboard-group", "data-testid": `rb-group-${group.key}`,
    },
    h("h2", { class: "rboard-group-title" }, group.title),
    h("div", { class: "rboard-table-wrap" },
      h("table", { class: "rboard-table" }, head.cloneNode(true),
        h("tbody", null, group.rows.map(rowOf)))))));
    body.append(h("p", { class: "rboard-printed print-only" },
      t("rb.printed", { time: timeText(new Date().toISOString(), timezone) })));
  }

  let generation = 0;
  async function load() {
    const mine = ++generation;
    body.setAttribute("aria-busy", "true");
    const params = new URLSearchParams({ site: String(site.id) });
    if (state.building) params.set("building", String(state.building));
    if (state.floor) params.set("floor", String(state.floor));
    if (state.day) params.set("day", state.day);
    try {
      const data = await api(`/api/renovations/board?${params}`);
      if (mine !== generation) return;
      draw(data);
      updated.textContent = t("rb.updated", { time: timeText(new Date().toISOString(), timezone) });
    } catch (error) {
      if (mine !== generation) return;
      body.replaceChildren(h("p", { class: "rboard-error", role: "alert", "data-testid": "rb-error" },
        errorText(error)));
    } finally {
      if (mine === generation) body.removeAttribute("aria-busy");
    }
  }

  (async () => {
    try {
      state.buildings = await api(`/api/sites/${site.id}/buildings`);
    } catch {
      state.buildings = [];
    }
    drawFilters();
    await load();
  })();

  const timer = setInterval(() => {
    if (!screen.isConnected) {
      clearInterval(timer);
      return;
    }
    if (!state.day || state.day === state.today) load();
  }, REFRESH_MS);
  return screen;
}
