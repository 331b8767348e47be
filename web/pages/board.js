// The dispatcher's board (派工看板) for the 客服助理 and managers: every open order of their sites,
// overdue first, with counts per status and per department that filter when tapped, and filters
// for site, status, department, source and "overdue only". The filters live in the URL query, so
// a reload (or a link sent to a colleague) shows the same board. On a desk it is a dense table; on
// a phone the same rows are cards (styles.css, "Desk: board, stats, calendar").
//
// The counts come from GET /api/work-orders/counts in one request: each chip counts under the other
// filters, so it always says how many rows tapping it will show.

import { api, NetworkError } from "../api.js";
import { h } from "../dom.js";
import { addStrings, getLang, t } from "../i18n.js";

export const STATUSES = ["raised", "dispatched", "arranged", "deferred", "reported", "verified", "closed"];
const OPEN_STATUSES = STATUSES.filter((s) => s !== "closed");
export const DEPARTMENTS = ["engineering", "security", "cleaning", "customer_service"];
export const SOURCES = ["inspection", "manual", "owner"];
/** Roles that work at the desk: the board, the statistics. */
export const DESK_ROLES = ["dispatcher", "manager", "admin"];

const PAGE_SIZE = 50;
const REFRESH_MS = 60_000;

addStrings({
  "zh-CN": {
    // The home screen's tiles to the desk screens (registered here, with the desk's other words).
    "tile.board": "派工看板",
    "tile.stats": "月统计",
    "tile.calendar": "工作日历",
    "board.title": "派工看板",
    "board.site": "项目",
    "board.all_sites": "全部项目",
    "board.status": "状态",
    "board.open_only": "全部未关闭",
    "board.everything": "全部（含已关闭）",
    "board.department": "部门",
    "board.all_departments": "全部部门",
    "board.source": "来源",
    "board.all_sources": "全部来源",
    "board.overdue_only": "只看超时",
    "board.clear": "清除筛选",
    "board.by_status": "按状态",
    "board.by_department": "按部门",
    "board.overdue_chip": "超时",
    "board.loading": "正在加载工单…",
    "board.empty": "没有符合条件的工单",
    "board.failed": "工单暂时无法加载",
    "board.offline": "离线：连上服务器后才能查看看板",
    "board.more": "加载更多",
    "board.shown": "显示 {shown} / 共 {total} 单",
    "board.updated": "更新于 {time}",
    "board.refresh": "刷新",
    "board.col_due": "时限",
    "board.col_title": "工单",
    "board.col_where": "检查点 / 位置",
    "board.col_department": "部门",
    "board.col_status": "状态",
    "board.col_source": "来源",
    "board.not_for_role": "派工看板供信息处理员（客服助理）和主管使用",
    "board.overdue_by": "超时 {time}",
    "board.left": "剩 {time}",
    "board.no_deadline": "—",
    "board.closed": "已关闭",
    "board.no_department": "未派工",
    "board.no_place": "未指定位置",
    "board.escalated_1": "升级至部门主管",
    "board.escalated_2": "升级至经理",
    "desk.status.raised": "待派工",
    "desk.status.dispatched": "已派工",
    "desk.status.arranged": "处理中",
    "desk.status.deferred": "暂缓",
    "desk.status.reported": "待核实",
    "desk.status.verified": "已核实",
    "desk.status.closed": "已关闭",
    "desk.department.engineering": "工程部",
    "desk.department.security": "秩序部",
    "desk.department.cleaning": "保洁绿化部",
    "desk.department.customer_service": "客服中心",
    "desk.source.inspection": "巡检",
    "desk.source.manual": "手工",
    "desk.source.owner": "业主",
    "desk.duration.days": "{n} 天",
    "desk.duration.hours": "{n} 小时",
    "desk.duration.minutes": "{n} 分",
    "desk.duration.under_minute": "不到 1 分",
  },
  en: {
    "tile.board": "Dispatch board",
    "tile.stats": "Monthly stats",
    "tile.calendar": "Work calendar",
    "board.title": "Dispatch board",
    "board.site": "Site",
    "board.all_sites": "All sites",
    "board.status": "Status",
    "board.open_only": "All open",
    "board.everything": "All (with closed)",
    "board.department": "Department",
    "board.all_departments": "All departments",
    "board.source": "Source",
    "board.all_sources": "All sources",
    "board.overdue_only": "Overdue only",
    "board.clear": "Clear filters",
    "board.by_status": "By status",
    "board.by_department": "By department",
    "board.overdue_chip": "Overdue",
    "board.loading": "Loading work orders…",
    "board.empty": "No work orders match",
    "board.failed": "Work orders cannot be loaded right now",
    "board.offline": "Offline: the board needs the server",
    "board.more": "Load more",
    "board.shown": "Showing {shown} of {total}",
    "board.updated": "Updated {time}",
    "board.refresh": "Refresh",
    "board.col_due": "Due",
    "board.col_title": "Order",
    "board.col_where": "Checkpoint / place",
    "board.col_department": "Department",
    "board.col_status": "Status",
    "board.col_source": "Source",
    "board.not_for_role": "The dispatch board is for dispatchers and managers",
    "board.overdue_by": "Overdue {time}",
    "board.left": "{time} left",
    "board.no_deadline": "—",
    "board.closed": "Closed",
    "board.no_department": "Not dispatched",
    "board.no_place": "No place given",
    "board.escalated_1": "Escalated to department head",
    "board.escalated_2": "Escalated to manager",
    "desk.status.raised": "To dispatch",
    "desk.status.dispatched": "Dispatched",
    "desk.status.arranged": "In hand",
    "desk.status.deferred": "Deferred",
    "desk.status.reported": "To verify",
    "desk.status.verified": "Verified",
    "desk.status.closed": "Closed",
    "desk.department.engineering": "Engineering",
    "desk.department.security": "Security",
    "desk.department.cleaning": "Cleaning",
    "desk.department.customer_service": "Customer service",
    "desk.source.inspection": "Inspection",
    "desk.source.manual": "By hand",
    "desk.source.owner": "Owner",
    "desk.duration.days": "{n} d",
    "desk.duration.hours": "{n} h",
    "desk.duration.minutes": "{n} min",
    "desk.duration.under_minute": "under 1 min",
  },
});

/** A department's name from its code (the server's codes; an unknown one is shown as it is). */
export function departmentName(code) {
  if (!code) return t("board.no_department");
  const key = `desk.department.${code}`;
  const text = t(key);
  return text === key ? code : text;
}

/**
 * A length of time as a person says it: "2 天 3 小时", "1 小时 20 分", "5 分" (two units at most).
 * @param {number} seconds
 */
export function formatDuration(seconds) {
  const total = Math.max(0, Math.round(seconds / 60));
  if (total < 1) return t("desk.duration.under_minute");
  const days = Math.floor(total / 1440);
  const hours = Math.floor((total % 1440) / 60);
  const minutes = total % 60;
  const parts = [];
  if (days) parts.push(t("desk.duration.days", { n: days }));
  if (hours) parts.push(t("desk.duration.hours", { n: hours }));
  if (minutes && !days) parts.push(t("desk.duration.minutes", { n: minutes }));
  return parts.slice(0, 2).join(" ");
}

// Fixed markup written here, 24×24, drawn with currentColor (no data goes into them).
const SOURCE_ICONS = {
  inspection: '<path d="M9 4h6v3H9z"/><path d="M7 5H5v16h14V5h-2"/><path d="m9 14 2 2 4-4"/>',
  manual: '<path d="M4 20h4L19 9l-4-4L4 16v4z"/><path d="m13 7 4 4"/>',
  owner: '<path d="M3 11 12 4l9 7"/><path d="M6 10v10h12V10"/><path d="M10 20v-5h4v5"/>',
};

export function sourceIcon(source) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "desk-icon");
  svg.innerHTML = SOURCE_ICONS[source] || SOURCE_ICONS.manual;
  return svg;
}

// ---------------------------------------------------------------------------------------------
// Filters: the URL query is the one place they are kept.

/** @typedef {{site: string, status: string, department: string, source: string, overdue: boolean}} Filters */

/** @returns {Filters} */
function readFilters() {
  const q = new URLSearchParams(location.search);
  const pick = (name, allowed) => (allowed.includes(q.get(name) || "") ? q.get(name) : "");
  return {
    site: /^\d+$/.test(q.get("site") || "") ? q.get("site") : "",
    status: pick("status", [...STATUSES, "all"]),
    department: pick("department", DEPARTMENTS),
    source: pick("source", SOURCES),
    overdue: q.get("overdue") === "1",
  };
}

/** @param {Filters} f */
function writeFilters(f) {
  const q = new URLSearchParams();
  if (f.site) q.set("site", f.site);
  if (f.status) q.set("status", f.status);
  if (f.department) q.set("department", f.department);
  if (f.source) q.set("source", f.source);
  if (f.overdue) q.set("overdue", "1");
  const search = q.toString();
  history.replaceState(null, "", `${location.pathname}${search ? `?${search}` : ""}`);
}

/** The list's query for filters `f` (status "" = open orders only, "all" = with closed ones). */
function listQuery(f, extra = {}) {
  const q = new URLSearchParams({ sort: "overdue" });
  if (f.site) q.set("site", f.site);
  if (f.status === "") q.set("open", "true");
  else if (f.status !== "all") q.set("status", f.status);
  if (f.department) q.set("department", f.department);
  if (f.source) q.set("source", f.source);
  if (f.overdue) q.set("overdue", "true");
  for (const [name, value] of Object.entries(extra)) q.set(name, String(value));
  return q;
}

// ---------------------------------------------------------------------------------------------

/** @param {import("../app.js").Ctx} ctx */
export function render(ctx) {
  const screen = h("section", { class: "desk board", "data-testid": "board-screen" },
    h("h1", { class: "page-title" }, t("board.title")));
  if (!DESK_ROLES.includes(ctx.me.role)) {
    screen.append(h("p", { class: "muted", "data-testid": "board-not-for-role" }, t("board.not_for_role")));
    return screen;
  }
  const sites = ctx.me.sites || [];
  let filters = readFilters();
  if (filters.site && !sites.some((s) => String(s.id) === filters.site)) filters.site = "";

  const siteName = new Map(sites.map((s) => [s.id, s.name]));
  const showSite = sites.length > 1 || ctx.me.role === "admin";

  // -- controls ------------------------------------------------------------------------------
  const controls = h("form", { class: "card desk-filters", "data-testid": "board-filters",
    onsubmit: (e) => e.preventDefault() });
  const chips = h("div", { class: "board-chips", "data-testid": "board-chips", "aria-live": "polite" });
  const status = h("p", { class: "status board-status", role: "status", "data-testid": "board-status" });
  const list = h("ol", { class: "board-list", "data-testid": "board-list" });
  const head = h("div", { class: "board-row board-head", "aria-hidden": "true" },
    h("span", { class: "board-due" }, t("board.col_due")),
    h("span", { class: "board-title" }, t("board.col_title")),
    h("span", { class: "board-where" }, t("board.col_where")),
    h("span", { class: "board-dept" }, t("board.col_department")),
    h("span", { class: "board-state" }, t("board.col_status")),
    h("span", { class: "board-source" }, t("board.col_source")));
  const more = h("button", { type: "button", class: "btn btn-secondary btn-block", hidden: true,
    "data-testid": "board-more", onclick: () => loadPage(loaded.page + 1) }, t("board.more"));
  const updated = h("span", { class: "muted", "data-testid": "board-updated" });
  const refreshButton = h("button", { type: "button", class: "btn btn-secondary btn-small",
    "data-testid": "board-refresh", onclick: () => refresh() }, t("board.refresh"));

  function select(id, label, options, value, onchange) {
    const el = h("select", { class: "input", id, "data-testid": id, onchange: () => onchange(el.value) },
      options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
    return h("div", { class: "field" }, h("label", { class: "field-label", for: id }, label), el);
  }

  function drawControls() {
    const fields = [];
    if (sites.length > 1) {
      fields.push(select("board-site", t("board.site"),
        [["", t("board.all_sites")], ...sites.map((s) => [String(s.id), s.name])], filters.site,
        (v) => change({ site: v })));
    }
    fields.push(
      select("board-status-filter", t("board.status"),
        [["", t("board.open_only")], ...STATUSES.map((s) => [s, t(`desk.status.${s}`)]),
          ["all", t("board.everything")]],
        filters.status, (v) => change({ status: v })),
      select("board-department", t("board.department"),
        [["", t("board.all_departments")], ...DEPARTMENTS.map((d) => [d, departmentName(d)])],
        filters.department, (v) => change({ department: v })),
      select("board-source", t("board.source"),
        [["", t("board.all_sources")], ...SOURCES.map((s) => [s, t(`desk.source.${s}`)])],
        filters.source, (v) => change({ source: v })),
      h("label", { class: "desk-check" },
        h("input", { type: "checkbox", "data-testid": "board-overdue", checked: filters.overdue,
          onchange: (e) => change({ overdue: e.target.checked }) }),
        h("span", null, t("board.overdue_only"))),
    );
    const anyFilter = filters.site || filters.status || filters.department || filters.source ||
      filters.overdue;
    controls.replaceChildren(h("div", { class: "desk-filter-grid" }, fields),
      h("div", { class: "desk-filter-actions" },
        anyFilter ? h("button", { type: "button", class: "btn btn-secondary btn-small",
          "data-testid": "board-clear",
          onclick: () => change({ site: "", status: "", department: "", source: "", overdue: false }) },
        t("board.clear")) : null,
        refreshButton, updated));
  }

  /** @param {Partial<Filters>} patch */
  function change(patch) {
    filters = { ...filters, ...patch };
    writeFilters(filters);
    drawControls();
    refresh({ keepPages: false });
  }

  // -- counts ----------------------------------------------------------------------------------
  function chip(testid, label, count, pressed, onclick, tone = "") {
    return h("button", { type: "button", class: `board-chip${tone ? ` board-chip-${tone}` : ""}`,
      "aria-pressed": pressed ? "true" : "false", "data-testid": testid, onclick },
    h("span", { class: "board-chip-label" }, label),
    h("strong", { class: "board-chip-count" }, String(count)));
  }

  async function loadCounts() {
    // The status chips count under every filter but the status one (open orders only, unless
    // closed orders were asked for), the department chips under every filter but the department.
    const shownStatuses = filters.status === "closed" || filters.status === "all" ? STATUSES : OPEN_STATUSES;
    const query = listQuery(filters);
    query.delete("sort");
    const counts = await api(`/api/work-orders/counts?${query}`);
    const byStatus = shownStatuses.map((s) => counts.by_status[s] || 0);
    const byDept = DEPARTMENTS.map((d) => counts.by_department[d] || 0);
    const overdue = counts.overdue;
    chips.replaceChildren(
      h("div", { class: "board-chip-row" },
        h("span", { class: "label board-chip-heading" }, t("board.by_status")),
        chip("board-chip-overdue", t("board.overdue_chip"), overdue, filters.overdue,
          () => change({ overdue: !filters.overdue }), "danger"),
        shownStatuses.map((s, i) => chip(`board-chip-status-${s}`, t(`desk.status.${s}`), byStatus[i],
          filters.status === s, () => change({ status: filters.status === s ? "" : s })))),
      h("div", { class: "board-chip-row" },
        h("span", { class: "label board-chip-heading" }, t("board.by_department")),
        DEPARTMENTS.map((d, i) => chip(`board-chip-department-${d}`, departmentName(d), byDept[i],
          filters.department === d,
          () => change({ department: filters.department === d ? "" : d })))));
  }

  // -- rows ------------------------------------------------------------------------------------
  const loaded = { page: 0, total: 0, shown: 0 };

  function row(item, now) {
    const due = item.due_at || item.next_due;
    let dueText = t("board.no_deadline");
    let tone = "none";
    if (item.status === "closed") {
      dueText = t("board.closed");
      tone = "closed";
    } else if (due) {
      const seconds = (Date.parse(due) - now) / 1000;
      if (item.overdue || seconds < 0) {
        dueText = t("board.overdue_by", { time: formatDuration(-seconds) });
        tone = "overdue";
      } else {
        dueText = t("board.left", { time: formatDuration(seconds) });
        tone = seconds < 2 * 3600 ? "soon" : "ok";
      }
    }
    const place = item.checkpoint
      ? [item.checkpoint.name, item.checkpoint.code].filter(Boolean).join(" · ")
      : item.owner_unit || t("board.no_place");
    const level = Math.min(item.escalation_level || 0, 2);
    return h("li", { class: "board-item", "data-testid": "board-row", "data-id": String(item.id),
      "data-status": item.status, "data-department": item.department || "", "data-source": item.source,
      "data-overdue": item.overdue ? "true" : "false" },
    h("a", { class: `board-row due-${tone}`, href: `/app/work-orders/${item.id}` },
      h("span", { class: "board-due", "data-testid": "board-row-due" }, dueText),
      h("span", { class: "board-title" },
        h("strong", { class: "board-title-text" }, item.title || `#${item.id}`),
        h("span", { class: "board-id" }, `#${item.id}`),
        showSite && siteName.has(item.site_id)
          ? h("span", { class: "board-site-name" }, siteName.get(item.site_id)) : null,
        level > 0 ? h("span", { class: `board-escalated level-${level}`,
          "data-testid": "board-row-escalated" }, t(`board.escalated_${level}`)) : null),
      h("span", { class: "board-where" }, place),
      h("span", { class: "board-dept", "data-testid": "board-row-department" },
        departmentName(item.department),
        item.assignee ? h("span", { class: "board-assignee" }, item.assignee.display_name) : null),
      h("span", { class: `board-state status-${item.status}`, "data-testid": "board-row-status" },
        t(`desk.status.${item.status}`)),
      h("span", { class: "board-source", title: t(`desk.source.${item.source}`) },
        sourceIcon(item.source), h("span", null, t(`desk.source.${item.source}`)))));
  }

  function showMessage(text, cls = "muted") {
    list.replaceChildren(h("li", { class: `board-message ${cls}`, "data-testid": "board-message" }, text));
  }

  function drawFooter() {
    status.textContent = loaded.total ? t("board.shown", { shown: loaded.shown, total: loaded.total }) : "";
    more.hidden = loaded.shown >= loaded.total;
  }

  function errorText(error) {
    return error instanceof NetworkError ? t("board.offline") : error.message || t("board.failed");
  }

  /** Append page `n` of the list under the current filters. */
  async function loadPage(n) {
    more.disabled = true;
    try {
      const page = await api(`/api/work-orders?${listQuery(filters, { page: n, page_size: PAGE_SIZE })}`);
      const now = Date.now();
      if (n === 1) list.replaceChildren();
      list.append(...page.items.map((item) => row(item, now)));
      loaded.page = n;
      loaded.total = page.total;
      loaded.shown = list.querySelectorAll("[data-testid=board-row]").length;
      if (!loaded.total) showMessage(t("board.empty"));
      drawFooter();
    } catch (error) {
      if (n === 1) showMessage(errorText(error), "form-error");
      else status.textContent = errorText(error);
    } finally {
      more.disabled = false;
    }
  }

  let generation = 0;
  let lastRefresh = 0;
  /** Reload the counts and the list; a refresh keeps as many pages as were shown. */
  async function refresh({ keepPages = true } = {}) {
    const mine = ++generation;
    lastRefresh = Date.now();
    const pages = keepPages ? Math.max(1, loaded.page) : 1;
    if (!keepPages) {
      loaded.page = 0;
      showMessage(t("board.loading"));
      more.hidden = true;
      status.textContent = "";
    }
    refreshButton.disabled = true;
    // Build the new rows aside and swap them in at once, so a periodic refresh never blinks.
    try {
      const results = await Promise.all([
        loadCounts().catch(() => {}),
        (async () => {
          const rows = [];
          let total = 0;
          for (let n = 1; n <= pages; n++) {
            const page = await api(`/api/work-orders?${listQuery(filters, { page: n, page_size: PAGE_SIZE })}`);
            total = page.total;
            const now = Date.now();
            rows.push(...page.items.map((item) => row(item, now)));
            if (n * PAGE_SIZE >= total) break;
          }
          return { rows, total, pages };
        })(),
      ]);
      if (mine !== generation) return;
      const { rows, total } = results[1];
      list.replaceChildren(...rows);
      loaded.total = total;
      loaded.shown = rows.length;
      loaded.page = Math.ceil(rows.length / PAGE_SIZE) || 1;
      if (!total) showMessage(t("board.empty"));
      drawFooter();
      updated.textContent = t("board.updated", {
        time: new Date().toLocaleTimeString(getLang(), { hour: "2-digit", minute: "2-digit" }) });
    } catch (error) {
      if (mine !== generation) return;
      if (!keepPages || !loaded.shown) showMessage(errorText(error), "form-error");
      else status.textContent = errorText(error);
    } finally {
      if (mine === generation) refreshButton.disabled = false;
    }
  }

  // Every 60 s while the board is on screen and the tab is visible; at once on coming back to it.
  const timer = setInterval(() => {
    if (!screen.isConnected) return stop();
    if (document.visibilityState === "visible") refresh();
  }, REFRESH_MS);
  function onVisible() {
    if (!screen.isConnected) return stop();
    if (document.visibilityState === "visible" && Date.now() - lastRefresh >= REFRESH_MS) refresh();
  }
  function stop() {
    clearInterval(timer);
    document.removeEventListener("visibilitychange", onVisible);
  }
  document.addEventListener("visibilitychange", onVisible);

  drawControls();
  screen.append(controls, chips, h("div", { class: "board-table" }, head, list), status, more);
  refresh({ keepPages: false });
  return screen;
}
