// A person's day (巡检路线): their checks of one day at the site as an ordered route — the time,
// checkpoint, building and floor of each scan, and the gap before the next, long gaps marked so a
// manager sees where the round stopped. Reached from the coverage map's person names
// (/app/route?user=<id>&day=YYYY-MM-DD); desk roles pick anyone who checked that day or had
// rounds, everyone else sees their own day. Data: GET /api/compliance/route (and, for desk roles,
// GET /api/compliance?group_by=person for the people with rounds but no checks).

import { api, ApiError, NetworkError } from "../api.js";
import { h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { addDays, shortDay, siteClock } from "./coverage.js";

/** A gap this long (minutes) between two checks is marked. */
export const LONG_GAP_MINUTES = 30;
const DESK_ROLES = ["dispatcher", "manager", "admin"];
const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

addStrings({
  "zh-CN": {
    "route.title": "巡检路线",
    "route.person": "人员",
    "route.day": "日期",
    "route.prev": "前一天",
    "route.next": "后一天",
    "route.loading": "正在加载路线…",
    "route.failed": "路线暂时无法加载",
    "route.offline": "离线：连上服务器后才能查看路线",
    "route.none": "当天没有检查记录",
    "route.summary": "{n} 次检查 · {first}–{last}",
    "route.longest": "最长间隔 {gap}",
    "route.long_gaps": "{n} 段长间隔（≥ {min} 分钟）",
    "route.gap": "间隔 {gap}",
    "route.long": "长间隔",
    "route.manual": "手输（未验证）",
    "route.late": "补传于 {time}",
    "route.grounds": "室外",
    "route.checks": "{name}（{n} 次）",
    "route.back": "返回覆盖图",
    "route.minutes": "{m} 分钟",
    "route.hours": "{h} 小时 {m} 分",
  },
  en: {
    "route.title": "Patrol route",
    "route.person": "Person",
    "route.day": "Day",
    "route.prev": "Previous day",
    "route.next": "Next day",
    "route.loading": "Loading the route…",
    "route.failed": "The route cannot be loaded right now",
    "route.offline": "Offline: the route needs the server",
    "route.none": "No checks that day",
    "route.summary": "{n} checks · {first}–{last}",
    "route.longest": "Longest gap {gap}",
    "route.long_gaps": "{n} long gaps (≥ {min} min)",
    "route.gap": "Gap {gap}",
    "route.long": "long gap",
    "route.manual": "Typed (unverified)",
    "route.late": "Arrived {time}",
    "route.grounds": "Grounds",
    "route.checks": "{name} ({n})",
    "route.back": "Back to the coverage map",
    "route.minutes": "{m} min",
    "route.hours": "{h} h {m} min",
  },
});

function duration(minutes) {
  const m = Math.round(minutes);
  return m < 60 ? t("route.minutes", { m }) : t("route.hours", { h: Math.floor(m / 60), m: m % 60 });
}

function errorText(error) {
  if (error instanceof NetworkError) return t("route.offline");
  if (error instanceof ApiError && error.message) return error.message;
  return t("route.failed");
}

/** @param {import("../app.js").Ctx} ctx */
export function render(ctx) {
  const { site, me } = ctx;
  const screen = h("section", { class: "route desk", "data-testid": "route-screen" },
    h("h1", { class: "page-title" }, t("route.title")));
  if (!site) return screen;
  const desk = DESK_ROLES.includes(me.role);
  const query = new URLSearchParams(location.search);
  const state = {
    user: Number(query.get("user")) || me.id,
    day: DAY_RE.test(query.get("day") || "") ? query.get("day") : "",
  };

  const controls = h("div", { class: "route-controls" });
  const summary = h("div", { class: "route-summary card", "data-testid": "route-summary", hidden: true });
  const list = h("ol", { class: "route-list", "data-testid": "route-list", "aria-busy": "true" });
  const message = h("p", { class: "muted", "data-testid": "route-message" }, t("route.loading"));

  function setUrl() {
    history.replaceState(null, "", `${location.pathname}?user=${state.user}&day=${state.day}`);
  }

  function drawControls(people, today) {
    const select = h("select", { class: "input", id: "route-person", "data-testid": "route-person",
      disabled: !desk, onchange: () => {
        state.user = Number(select.value);
        load();
      } }, people.map((p) => h("option", { value: String(p.id), selected: p.id === state.user },
      p.checks === null ? p.name : t("route.checks", { name: p.name, n: p.checks }))));
    const day = h("input", { type: "date", class: "input", id: "route-day", value: state.day, max: today,
      "data-testid": "route-day", onchange: () => {
        if (!DAY_RE.test(day.value)) return;
        state.day = day.value;
        load();
      } });
    const step = (n, key, testid) => h("button", { type: "button", class: "btn btn-secondary route-step",
      "aria-label": t(key), "data-testid": testid, disabled: n > 0 && state.day >= today,
      onclick: () => {
        state.day = addDays(state.day, n);
        load();
      } }, n < 0 ? "‹" : "›");
    controls.replaceChildren(
      h("div", { class: "field" }, h("label", { class: "field-label", for: "route-person" }, t("route.person")), select),
      h("div", { class: "field" }, h("label", { class: "field-label", for: "route-day" }, t("route.day")),
        h("div", { class: "route-days" }, step(-1, "route.prev", "route-prev"), day,
          step(1, "route.next", "route-next"))),
      desk ? h("a", { class: "route-back", href: `/app/coverage?from=${state.day}&to=${state.day}` },
        t("route.back")) : null);
  }

  let generation = 0;
  async function load() {
    const mine = ++generation;
    list.setAttribute("aria-busy", "true");
    const params = new URLSearchParams({ site: String(site.id), user: String(state.user) });
    if (state.day) params.set("day", state.day);
    try {
      const route = await api(`/api/compliance/route?${params}`);
      if (mine !== generation) return;
      state.day = route.day;
      const today = siteClock(new Date().toISOString(), route.timezone).day;
      // The people to pick from: who checked that day, who had rounds that day, and this person.
      const people = new Map(route.people.map((p) => [p.id, { id: p.id, name: p.name, checks: p.checks }]));
      if (desk) {
        try {
          const report = await api(`/api/compliance?site=${site.id}&from=${route.day}&to=${route.day}&group_by=person`);
          for (const row of report.rows) {
            if (row.key !== null && !people.has(row.key)) people.set(row.key, { id: row.key, name: row.label, checks: 0 });
          }
        } catch {
          // the picker then lists only who checked
        }
      }
      if (!people.has(route.user.id)) people.set(route.user.id, { id: route.user.id, name: route.user.name, checks: route.checks.length });
      if (mine !== generation) return;
      setUrl();
      drawControls([...people.values()].sort((a, b) => a.name.localeCompare(b.name, "zh-CN")), today);
      drawRoute(route);
    } catch (error) {
      if (mine !== generation) return;
      list.replaceChildren();
      summary.hidden = true;
      message.hidden = false;
      message.className = "form-error";
      message.textContent = errorText(error);
    } finally {
      if (mine === generation) list.setAttribute("aria-busy", "false");
    }
  }

  function drawRoute(route) {
    const tz = route.timezone;
    const checks = route.checks;
    message.className = "muted";
    message.hidden = checks.length > 0;
    message.textContent = t("route.none");
    if (!checks.length) {
      summary.hidden = true;
      list.replaceChildren();
      return;
    }
    const gaps = checks.slice(1).map((c, i) =>
      (Date.parse(c.device_time) - Date.parse(checks[i].device_time)) / 60000);
    const longest = gaps.length ? Math.max(...gaps) : 0;
    const longCount = gaps.filter((g) => g >= LONG_GAP_MINUTES).length;
    summary.hidden = false;
    summary.replaceChildren(
      h("p", { class: "route-who" }, h("strong", null, route.user.name), ` · ${shortDay(route.day)}`),
      h("p", { "data-testid": "route-total" }, t("route.summary", { n: checks.length,
        first: siteClock(checks[0].device_time, tz).hm, last: siteClock(checks.at(-1).device_time, tz).hm })),
      gaps.length ? h("p", { class: longCount ? "route-warn" : "" },
        t("route.longest", { gap: duration(longest) }),
        longCount ? ` · ${t("route.long_gaps", { n: longCount, min: LONG_GAP_MINUTES })}` : "") : null);
    const items = [];
    checks.forEach((c, i) => {
      if (i > 0) {
        const gap = gaps[i - 1];
        const long = gap >= LONG_GAP_MINUTES;
        items.push(h("li", { class: `route-gap${long ? " is-long" : ""}`, "data-testid": "route-gap",
          "data-minutes": String(Math.round(gap)), "aria-label": long ? `${t("route.gap", { gap: duration(gap) })} · ${t("route.long")}` : null },
        h("span", { class: "route-gap-text" }, long ? "⚠ " : "", t("route.gap", { gap: duration(gap) }))));
      }
      const at = siteClock(c.device_time, tz);
      const arrived = siteClock(c.received_at, tz);
      const late = Date.parse(c.received_at) - Date.parse(c.device_time) > 10 * 60000;
      const where = [c.building?.name, c.floor?.name].filter(Boolean).join(" ") || t("route.grounds");
      items.push(h("li", { class: "route-stop", "data-testid": "route-stop", "data-checkpoint": String(c.checkpoint.id) },
        h("span", { class: "route-time" }, at.day === route.day ? at.hm : `${shortDay(at.day)} ${at.hm}`),
        h("span", { class: "route-body" },
          h("span", { class: "route-name" }, c.checkpoint.name),
          h("span", { class: "route-where" },
            c.floor ? h("a", { href: `/app/floors/${c.floor.id}` }, where) : where,
            ` · ${c.checkpoint.code}`),
          c.source === "manual" ? h("span", { class: "route-tag route-tag-manual" }, t("route.manual")) : null,
          late ? h("span", { class: "route-tag" }, t("route.late", {
            time: `${shortDay(arrived.day)} ${arrived.hm}` })) : null)));
    });
    list.replaceChildren(...items);
  }

  screen.append(controls, summary, message, list);
  load();
  return screen;
}
