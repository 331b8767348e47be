// The work calendar (工作日历) of a site: its public holidays (放假) and make-up working days
// (调休上班), one year at a time. Every deadline of a work order is counted in working days on
// this calendar, so managers (and admins) keep it; everyone else may read it. Changing a day
// moves the open orders' deadlines at once (the server recomputes them).

import { api, ApiError, NetworkError } from "../api.js";
import { h } from "../dom.js";
import { addStrings, getLang, t } from "../i18n.js";

const EDITORS = ["manager", "admin"];
const KINDS = ["holiday", "workday"];

addStrings({
  "zh-CN": {
    "calendar.title": "工作日历",
    "calendar.intro": "工单时限按工作日计算：周一至周五上班，下面列出的放假日和调休上班日除外。",
    "calendar.site": "项目",
    "calendar.year": "年份",
    "calendar.prev_year": "上一年",
    "calendar.next_year": "下一年",
    "calendar.timezone": "时区：{tz}",
    "calendar.loading": "正在读取日历…",
    "calendar.empty": "{year} 年还没有设置放假或调休",
    "calendar.failed": "日历暂时无法加载",
    "calendar.offline": "离线：连上服务器后才能查看和修改日历",
    "calendar.add_title": "添加放假 / 调休",
    "calendar.day": "日期",
    "calendar.kind": "类型",
    "calendar.kind.holiday": "放假",
    "calendar.kind.workday": "调休上班",
    "calendar.name": "名称",
    "calendar.name_placeholder": "如：国庆节",
    "calendar.add": "保存",
    "calendar.saving": "正在保存…",
    "calendar.saved": "已保存 {day}",
    "calendar.day_required": "请选择日期",
    "calendar.replaces": "{day} 已设为“{kind}”，保存将替换",
    "calendar.delete": "删除",
    "calendar.delete_label": "删除 {day}",
    "calendar.delete_confirm": "删除 {day}（{name}）？该日恢复为普通{normal}。",
    "calendar.deleted": "已删除 {day}",
    "calendar.normal_workday": "工作日",
    "calendar.normal_weekend": "周末",
    "calendar.count": "{year} 年：放假 {holidays} 天，调休上班 {workdays} 天",
    "calendar.weekend_holiday": "本来就是周末",
    "calendar.weekday_workday": "本来就是工作日",
    "calendar.read_only": "只有主管和管理员可以修改日历",
  },
  en: {
    "calendar.title": "Work calendar",
    "calendar.intro": "Work-order deadlines count working days: Monday to Friday, except the holidays and make-up working days listed here.",
    "calendar.site": "Site",
    "calendar.year": "Year",
    "calendar.prev_year": "Previous year",
    "calendar.next_year": "Next year",
    "calendar.timezone": "Time zone: {tz}",
    "calendar.loading": "Loading the calendar…",
    "calendar.empty": "No holidays or make-up days set for {year}",
    "calendar.failed": "The calendar cannot be loaded right now",
    "calendar.offline": "Offline: the calendar needs the server",
    "calendar.add_title": "Add a holiday / make-up day",
    "calendar.day": "Date",
    "calendar.kind": "Kind",
    "calendar.kind.holiday": "Holiday",
    "calendar.kind.workday": "Make-up working day",
    "calendar.name": "Name",
    "calendar.name_placeholder": "e.g. National Day",
    "calendar.add": "Save",
    "calendar.saving": "Saving…",
    "calendar.saved": "Saved {day}",
    "calendar.day_required": "Choose a date",
    "calendar.replaces": "{day} is already a “{kind}”; saving replaces it",
    "calendar.delete": "Delete",
    "calendar.delete_label": "Delete {day}",
    "calendar.delete_confirm": "Delete {day} ({name})? It becomes an ordinary {normal} again.",
    "calendar.deleted": "Deleted {day}",
    "calendar.normal_workday": "working day",
    "calendar.normal_weekend": "weekend day",
    "calendar.count": "{year}: {holidays} holidays, {workdays} make-up working days",
    "calendar.weekend_holiday": "already a weekend day",
    "calendar.weekday_workday": "already a working day",
    "calendar.read_only": "Only managers and administrators can change the calendar",
  },
});

/** The weekday of an ISO date (0 = Sunday), counted on the date itself, not in any time zone. */
function weekday(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d)).getUTCDay();
}

function isWeekend(iso) {
  const day = weekday(iso);
  return day === 0 || day === 6;
}

/** "10月1日 周三" / "Wed 1 Oct". */
function dayLabel(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.toLocaleDateString(getLang(), { timeZone: "UTC", month: "short", day: "numeric",
    weekday: "short" });
}

function readQuery(ctx) {
  const q = new URLSearchParams(location.search);
  const sites = ctx.me.sites || [];
  const site = sites.find((s) => String(s.id) === q.get("site")) || ctx.site;
  const year = /^\d{4}$/.test(q.get("year") || "") ? Number(q.get("year")) : new Date().getFullYear();
  return { site, year };
}

/** @param {import("../app.js").Ctx} ctx */
export function render(ctx) {
  const screen = h("section", { class: "desk calendar", "data-testid": "calendar-screen" },
    h("h1", { class: "page-title" }, t("calendar.title")),
    h("p", { class: "muted" }, t("calendar.intro")));
  let { site, year } = readQuery(ctx);
  if (!site) {
    screen.append(h("p", { class: "muted" }, t("home.no_site")));
    return screen;
  }
  const sites = ctx.me.sites || [];
  const canEdit = EDITORS.includes(ctx.me.role);
  /** @type {{day: string, kind: string, name: string}[]} */
  let days = [];

  const status = h("p", { class: "status", role: "status", "aria-live": "polite",
    "data-testid": "calendar-status" });
  const summary = h("p", { class: "muted", "data-testid": "calendar-summary" });
  const list = h("ol", { class: "calendar-list", "data-testid": "calendar-list" });
  const yearLabel = h("strong", { class: "calendar-year", "data-testid": "calendar-year" });

  function writeQuery() {
    const q = new URLSearchParams({ site: String(site.id), year: String(year) });
    history.replaceState(null, "", `${location.pathname}?${q}`);
  }

  function say(text, error = false) {
    status.className = error ? "status form-error" : "status";
    status.textContent = text;
  }

  function errorText(error) {
    return error instanceof NetworkError ? t("calendar.offline") : error.message || t("calendar.failed");
  }

  // -- site and year -------------------------------------------------------------------------
  const nav = h("div", { class: "card calendar-nav" });
  if (sites.length > 1) {
    const siteSelect = h("select", { class: "input", id: "calendar-site", "data-testid": "calendar-site",
      onchange: () => {
        site = sites.find((s) => String(s.id) === siteSelect.value) || site;
        writeQuery();
        load();
      } }, sites.map((s) => h("option", { value: String(s.id), selected: s.id === site.id }, s.name)));
    nav.append(h("div", { class: "field" },
      h("label", { class: "field-label", for: "calendar-site" }, t("calendar.site")), siteSelect));
  }
  const step = (delta) => () => {
    year += delta;
    writeQuery();
    load();
  };
  nav.append(h("div", { class: "calendar-years", role: "group", "aria-label": t("calendar.year") },
    h("button", { type: "button", class: "btn btn-secondary", "data-testid": "calendar-prev",
      "aria-label": t("calendar.prev_year"), onclick: step(-1) }, "‹"),
    yearLabel,
    h("button", { type: "button", class: "btn btn-secondary", "data-testid": "calendar-next",
      "aria-label": t("calendar.next_year"), onclick: step(1) }, "›")),
  summary);

  // -- the list --------------------------------------------------------------------------------
  function draw() {
    yearLabel.textContent = String(year);
    const holidays = days.filter((d) => d.kind === "holiday").length;
    summary.textContent = t("calendar.count", { year, holidays, workdays: days.length - holidays });
    if (!days.length) {
      list.replaceChildren(h("li", { class: "muted calendar-empty", "data-testid": "calendar-empty" },
        t("calendar.empty", { year })));
      return;
    }
    list.replaceChildren(...days.map((d) => {
      const odd = d.kind === "holiday" ? isWeekend(d.day) : !isWeekend(d.day);
      return h("li", { class: `calendar-day kind-${d.kind}`, "data-testid": "calendar-day",
        "data-day": d.day, "data-kind": d.kind },
      h("span", { class: "calendar-date" },
        h("strong", null, dayLabel(d.day)), h("span", { class: "calendar-iso" }, d.day)),
      h("span", { class: `calendar-kind kind-${d.kind}` }, t(`calendar.kind.${d.kind}`)),
      h("span", { class: "calendar-name" }, d.name || "—",
        odd ? h("span", { class: "calendar-odd" },
          t(d.kind === "holiday" ? "calendar.weekend_holiday" : "calendar.weekday_workday")) : null),
      canEdit ? h("button", { type: "button", class: "btn btn-danger-outline btn-small",
        "data-testid": "calendar-delete", "aria-label": t("calendar.delete_label", { day: d.day }),
        onclick: (e) => remove(d, e.currentTarget) }, t("calendar.delete")) : null);
    }));
  }

  let generation = 0;
  async function load() {
    const mine = ++generation;
    yearLabel.textContent = String(year);
    list.replaceChildren(h("li", { class: "muted" }, t("calendar.loading")));
    try {
      const calendar = await api(`/api/sites/${site.id}/calendar?year=${year}`);
      if (mine !== generation) return;
      days = calendar.days.map((d) => ({ ...d, day: String(d.day).slice(0, 10) }));
      tzNote.textContent = t("calendar.timezone", { tz: calendar.timezone });
      draw();
    } catch (error) {
      if (mine !== generation) return;
      list.replaceChildren(h("li", { class: "form-error", "data-testid": "calendar-error" }, errorText(error)));
    }
  }

  async function remove(d, button) {
    const normal = t(isWeekend(d.day) ? "calendar.normal_weekend" : "calendar.normal_workday");
    if (!window.confirm(t("calendar.delete_confirm", { day: d.day, name: d.name || t(`calendar.kind.${d.kind}`), normal }))) return;
    button.disabled = true;
    try {
      await api(`/api/sites/${site.id}/calendar/${d.day}`, { method: "DELETE" });
      say(t("calendar.deleted", { day: d.day }));
      await load();
    } catch (error) {
      button.disabled = false;
      say(errorText(error), true);
    }
  }

  // -- the form --------------------------------------------------------------------------------
  const tzNote = h("p", { class: "muted", "data-testid": "calendar-timezone" });
  screen.append(nav);
  if (canEdit) screen.append(addForm());
  else screen.append(h("p", { class: "muted" }, t("calendar.read_only")));
  screen.append(status, h("div", { class: "card calendar-card" }, list), tzNote);

  function addForm() {
    const dayInput = h("input", { class: "input", type: "date", id: "calendar-day-input",
      "data-testid": "calendar-day-input", required: true, oninput: () => hint() });
    const nameInput = h("input", { class: "input", type: "text", id: "calendar-name",
      "data-testid": "calendar-name", maxlength: 50, placeholder: t("calendar.name_placeholder") });
    const replaces = h("p", { class: "muted calendar-replaces", "data-testid": "calendar-replaces", hidden: true });
    const kinds = h("div", { class: "calendar-kinds", role: "radiogroup", "aria-label": t("calendar.kind") },
      KINDS.map((kind, i) => h("label", { class: `calendar-kind-choice kind-${kind}` },
        h("input", { type: "radio", name: "calendar-kind", value: kind, checked: i === 0,
          "data-testid": `calendar-kind-${kind}` }),
        h("span", null, t(`calendar.kind.${kind}`)))));
    const save = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "calendar-add" },
      t("calendar.add"));

    function hint() {
      const existing = days.find((d) => d.day === dayInput.value);
      replaces.hidden = !existing;
      if (existing) {
        replaces.textContent = t("calendar.replaces", { day: existing.day,
          kind: t(`calendar.kind.${existing.kind}`) });
      }
    }

    const form = h("form", { class: "card calendar-form", "data-testid": "calendar-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const day = dayInput.value;
        if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) {
          say(t("calendar.day_required"), true);
          dayInput.focus();
          return;
        }
        const kind = /** @type {HTMLInputElement} */ (form.querySelector("input[name=calendar-kind]:checked")).value;
        save.disabled = true;
        say(t("calendar.saving"));
        try {
          await api(`/api/sites/${site.id}/calendar/${day}`, { method: "PUT",
            body: { kind, name: nameInput.value.trim() } });
          say(t("calendar.saved", { day }));
          nameInput.value = "";
          replaces.hidden = true;
          const dayYear = Number(day.slice(0, 4));
          if (dayYear !== year) {
            year = dayYear;
            writeQuery();
          }
          await load();
        } catch (error) {
          say(error instanceof ApiError || error instanceof NetworkError ? errorText(error) : t("calendar.failed"), true);
        } finally {
          save.disabled = false;
        }
      } },
    h("h2", { class: "section-title" }, t("calendar.add_title")),
    h("div", { class: "calendar-form-grid" },
      h("div", { class: "field" }, h("label", { class: "field-label", for: "calendar-day-input" }, t("calendar.day")), dayInput),
      h("div", { class: "field" }, h("span", { class: "field-label" }, t("calendar.kind")), kinds),
      h("div", { class: "field" }, h("label", { class: "field-label", for: "calendar-name" }, t("calendar.name")), nameInput)),
    replaces, save);
    return form;
  }

  writeQuery();
  load();
  return screen;
}
