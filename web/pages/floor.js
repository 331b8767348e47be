// The floor view (楼层平面): the floor's plan (an uploaded image, or the server's schematic drawn
// from the floor's units) with its checkpoints as dots coloured like the coverage map for the
// chosen period, each with its last check time on tap. Managers move dots by dragging them in
// "调整位置" mode (pointer events: finger, pen or mouse) and upload a plan image. The period is in
// the URL (?from=&to=), so a link from the coverage map opens the same days.
// API: GET /api/floors/{id}/checkpoints, GET|PUT /api/floors/{id}/plan,
// PUT /api/checkpoints/{id}/position.

import { api, ApiError, NetworkError } from "../api.js";
import { h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { addDays, siteClock, shortDay } from "./coverage.js";

const EDITORS = ["manager", "admin"];
const PERIODS = ["today", "yesterday", "week", "month"];
/** The API's states → the coverage map's colour classes and marks. */
const LOOK = {
  on_time: { cls: "ontime", mark: "✓" },
  late: { cls: "partial", mark: "!" },
  missed: { cls: "missed", mark: "✕" },
  pending: { cls: "pending", mark: "…" },
  not_planned: { cls: "none", mark: "–" },
};
const ORDER = ["missed", "late", "pending", "on_time", "not_planned"];

addStrings({
  "zh-CN": {
    "floor.title": "楼层平面",
    "floor.loading": "正在读取…",
    "floor.failed": "楼层暂时无法加载",
    "floor.offline": "离线：连上服务器后才能查看楼层平面",
    "floor.today": "今天",
    "floor.yesterday": "昨天",
    "floor.week": "本周",
    "floor.month": "本月",
    "floor.range": "{from} – {to}",
    "floor.schematic": "示意图（尚未上传平面图）",
    "floor.adjust": "调整位置",
    "floor.adjust_done": "完成调整",
    "floor.adjust_hint": "拖动圆点到正确位置，松手即保存",
    "floor.upload": "上传平面图",
    "floor.upload_all": "同户型楼层共用",
    "floor.uploading": "正在上传…",
    "floor.uploaded": "平面图已上传",
    "floor.uploaded_many": "平面图已用于 {n} 个楼层",
    "floor.saved": "位置已保存：{name}",
    "floor.save_failed": "位置未保存：{error}",
    "floor.count": "{n} 个巡检点",
    "floor.last": "最近检查：{time}",
    "floor.last_round": "本期计入：{time}",
    "floor.never": "从未检查",
    "floor.state.on_time": "按时完成",
    "floor.state.late": "迟到 / 部分完成",
    "floor.state.missed": "有漏检",
    "floor.state.pending": "未到时间",
    "floor.state.not_planned": "无计划",
    "floor.tap_hint": "点圆点查看检查时间",
    "floor.back": "返回覆盖图",
    "floor.counts": "应检 {expected} · 按时 {done} · 迟到 {late} · 漏检 {missed}",
  },
  en: {
    "floor.title": "Floor plan",
    "floor.loading": "Loading…",
    "floor.failed": "The floor cannot be loaded right now",
    "floor.offline": "Offline: the floor plan needs the server",
    "floor.today": "Today",
    "floor.yesterday": "Yesterday",
    "floor.week": "This week",
    "floor.month": "This month",
    "floor.range": "{from} – {to}",
    "floor.schematic": "Schematic (no plan uploaded yet)",
    "floor.adjust": "Move dots",
    "floor.adjust_done": "Done moving",
    "floor.adjust_hint": "Drag a dot to its place; it is saved when you let go",
    "floor.upload": "Upload plan",
    "floor.upload_all": "Same for floors of this layout",
    "floor.uploading": "Uploading…",
    "floor.uploaded": "Plan uploaded",
    "floor.uploaded_many": "Plan now used on {n} floors",
    "floor.saved": "Position saved: {name}",
    "floor.save_failed": "Position not saved: {error}",
    "floor.count": "{n} checkpoints",
    "floor.last": "Last check: {time}",
    "floor.last_round": "Counted in period: {time}",
    "floor.never": "Never checked",
    "floor.state.on_time": "On time",
    "floor.state.late": "Late / partial",
    "floor.state.missed": "Missed",
    "floor.state.pending": "Not due yet",
    "floor.state.not_planned": "Not planned",
    "floor.tap_hint": "Tap a dot for its check times",
    "floor.back": "Back to coverage",
    "floor.counts": "expected {expected} · on time {done} · late {late} · missed {missed}",
  },
});

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

function rangeOf(period, today) {
  if (period === "yesterday") return [addDays(today, -1), addDays(today, -1)];
  if (period === "week") {
    const [y, m, d] = today.split("-").map(Number);
    const weekday = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7;
    return [addDays(today, -weekday), today];
  }
  if (period === "month") return [`${today.slice(0, 8)}01`, today];
  return [today, today];
}

function timeText(iso, timezone) {
  if (!iso) return t("floor.never");
  const at = siteClock(iso, timezone);
  return `${shortDay(at.day)} ${at.hm}`;
}

function errorText(error) {
  if (error instanceof NetworkError) return t("floor.offline");
  if (error instanceof ApiError && error.message) return error.message;
  return t("floor.failed");
}

const clamp = (v) => Math.min(1, Math.max(0, v));

/** @param {import("../app.js").Ctx} ctx */
export function render(ctx) {
  const floorId = Number(ctx.params.id);
  const timezone = (ctx.site && ctx.site.timezone) || "Asia/Shanghai";
  const canEdit = EDITORS.includes(ctx.me.role);
  const today = siteClock(new Date().toISOString(), timezone).day;
  const query = new URLSearchParams(location.search);
  let from = DAY_RE.test(query.get("from") || "") ? query.get("from") : today;
  let to = DAY_RE.test(query.get("to") || "") ? query.get("to") : from;
  if (to < from) [from, to] = [to, from];
  let adjusting = false;
  /** @type {any} */
  let view = null;
  let selected = null;

  const title = h("h1", { class: "page-title", "data-testid": "floor-title" }, t("floor.title"));
  const status = h("p", { class: "status", role: "status", "aria-live": "polite",
    "data-testid": "floor-status" });
  const periods = h("div", { class: "floor-periods", role: "group", "aria-label": t("floor.title") });
  const rangeLabel = h("p", { class: "muted floor-range", "data-testid": "floor-range" });
  const img = h("img", { class: "floor-image", alt: "", "data-testid": "floor-image", draggable: "false" });
  const plan = h("div", { class: "floor-plan", "data-testid": "floor-plan" }, img);
  const caption = h("p", { class: "muted floor-caption", "data-testid": "floor-caption" });
  const info = h("div", { class: "card floor-info", "data-testid": "floor-info", hidden: true });
  const legend = h("ul", { class: "floor-legend", "data-testid": "floor-legend" });
  const list = h("ol", { class: "floor-list", "data-testid": "floor-list" });
  const tools = h("div", { class: "floor-tools" });
  const screen = h("section", { class: "floor-screen", "data-testid": "floor-screen" },
    h("a", { class: "floor-back", href: `/app/coverage?from=${from}&to=${to}` }, `‹ ${t("floor.back")}`),
    title, periods, rangeLabel, tools, status, plan, caption, info, legend, list);

  function say(text, error = false) {
    status.className = error ? "status form-error" : "status";
    status.textContent = text;
  }

  // -- period ---------------------------------------------------------------------------------
  function drawPeriods() {
    periods.replaceChildren(...PERIODS.map((p) => {
      const [f, tt] = rangeOf(p, today);
      const on = f === from && tt === to;
      return h("button", { type: "button", class: on ? "btn floor-period is-on" : "btn btn-secondary floor-period",
        "aria-pressed": on ? "true" : "false", "data-testid": `floor-period-${p}`,
        onclick: () => {
          [from, to] = [f, tt];
          const q = new URLSearchParams({ from, to });
          history.replaceState(null, "", `${location.pathname}?${q}`);
          drawPeriods();
          load();
        } }, t(`floor.${p}`));
    }));
    rangeLabel.textContent = from === to ? shortDay(from) : t("floor.range", { from: shortDay(from), to: shortDay(to) });
  }

  // -- tools (managers) -----------------------------------------------------------------------
  if (canEdit) {
    const adjust = h("button", { type: "button", class: "btn btn-secondary", "data-testid": "floor-adjust",
      "aria-pressed": "false",
      onclick: () => {
        adjusting = !adjusting;
        adjust.textContent = adjusting ? t("floor.adjust_done") : t("floor.adjust");
        adjust.setAttribute("aria-pressed", adjusting ? "true" : "false");
        plan.classList.toggle("is-adjusting", adjusting);
        say(adjusting ? t("floor.adjust_hint") : "");
      } }, t("floor.adjust"));
    const shared = h("input", { type: "checkbox", id: "floor-upload-all", "data-testid": "floor-upload-all" });
    const file = h("input", { type: "file", accept: "image/jpeg,image/png,image/webp", class: "floor-file",
      id: "floor-file", "data-testid": "floor-file",
      onchange: async () => {
        const chosen = file.files && file.files[0];
        if (!chosen) return;
        say(t("floor.uploading"));
        const suffix = shared.checked ? "?apply_to=building_same_layout" : "";
        try {
          const stored = await api(`/api/floors/${floorId}/plan${suffix}`, { method: "PUT", body: chosen,
            timeoutMs: 60000 });
          await load();
          say(stored.applied_to.length > 1 ? t("floor.uploaded_many", { n: stored.applied_to.length })
            : t("floor.uploaded"));
        } catch (error) {
          say(errorText(error), true);
        } finally {
          file.value = "";
        }
      } });
    tools.append(adjust,
      h("label", { class: "btn btn-secondary floor-upload", for: "floor-file" }, t("floor.upload")), file,
      h("label", { class: "floor-upload-all", for: "floor-upload-all" }, shared, t("floor.upload_all")));
  }

  // -- dots -----------------------------------------------------------------------------------
  function showInfo(cp) {
    selected = cp.id;
    for (const dot of plan.querySelectorAll(".floor-dot")) {
      dot.classList.toggle("is-selected", Number(dot.dataset.id) === cp.id);
    }
    const c = cp.counts;
    info.hidden = false;
    info.replaceChildren(
      h("p", { class: "floor-info-name" }, h("strong", {}, cp.name), " ", h("span", { class: "muted" }, cp.code)),
      h("p", {}, h("span", { class: `floor-swatch cov-${LOOK[cp.state].cls}`, "aria-hidden": "true" },
        LOOK[cp.state].mark), " ", h("span", { "data-testid": "floor-info-state" }, t(`floor.state.${cp.state}`))),
      c ? h("p", { class: "muted" }, t("floor.counts", c)) : "",
      h("p", { "data-testid": "floor-info-last" }, t("floor.last", { time: timeText(cp.last_inspection_at, timezone) })),
      cp.last_checked_at ? h("p", { class: "muted" },
        t("floor.last_round", { time: timeText(cp.last_checked_at, timezone) })) : "");
  }

  function place(dot, x, y) {
    dot.style.left = `${x * 100}%`;
    dot.style.top = `${y * 100}%`;
  }

  function makeDot(cp) {
    const look = LOOK[cp.state];
    const dot = h("button", { type: "button", class: `floor-dot state-${cp.state}`,
      "data-id": String(cp.id), "data-state": cp.state, "data-testid": `floor-dot-${cp.code}`,
      "aria-label": `${cp.name} ${t(`floor.state.${cp.state}`)}`, title: cp.name },
    h("span", { class: `floor-dot-mark cov-${look.cls}`, "aria-hidden": "true" }, look.mark));
    place(dot, cp.x, cp.y);
    let drag = null;
    dot.addEventListener("pointerdown", (event) => {
      if (!adjusting) return;
      event.preventDefault();
      dot.setPointerCapture(event.pointerId);
      drag = { id: event.pointerId, moved: false, x: cp.x, y: cp.y };
      dot.classList.add("is-dragging");
    });
    dot.addEventListener("pointermove", (event) => {
      if (!drag || event.pointerId !== drag.id) return;
      const box = plan.getBoundingClientRect();
      drag.x = clamp((event.clientX - box.left) / box.width);
      drag.y = clamp((event.clientY - box.top) / box.height);
      drag.moved = true;
      place(dot, drag.x, drag.y);
    });
    const finish = async (event) => {
      if (!drag || event.pointerId !== drag.id) return;
      const { moved, x, y } = drag;
      drag = null;
      dot.classList.remove("is-dragging");
      if (!moved) return;
      try {
        const saved = await api(`/api/checkpoints/${cp.id}/position`, { method: "PUT", body: { x, y } });
        cp.x = saved.x; cp.y = saved.y; cp.placed = true;
        dot.dataset.saved = `${saved.x},${saved.y}`;
        say(t("floor.saved", { name: cp.name }));
      } catch (error) {
        place(dot, cp.x, cp.y);
        say(t("floor.save_failed", { error: errorText(error) }), true);
      }
    };
    dot.addEventListener("pointerup", finish);
    dot.addEventListener("pointercancel", (event) => {
      if (!drag || event.pointerId !== drag.id) return;
      drag = null;
      dot.classList.remove("is-dragging");
      place(dot, cp.x, cp.y);
    });
    dot.addEventListener("click", () => { if (!adjusting) showInfo(cp); });
    return dot;
  }

  function draw() {
    const f = view.floor;
    title.textContent = `${f.building.name} ${f.name}`;
    const src = view.plan ? `/api/floors/${floorId}/plan?v=${view.plan.sha256}`
      : `/api/floors/${floorId}/plan?checkpoints=false&v=${Date.now()}`;
    if (img.getAttribute("src") !== src) img.src = src;
    img.alt = `${f.building.name} ${f.name}`;
    plan.dataset.kind = view.plan ? "image" : "schematic";
    caption.textContent = view.plan ? t("floor.tap_hint") : `${t("floor.schematic")} · ${t("floor.tap_hint")}`;
    for (const old of plan.querySelectorAll(".floor-dot")) old.remove();
    const byState = {};
    // The states that need attention are drawn last, so a missed dot is never under a grey one.
    const drawOrder = [...view.checkpoints].sort((a, b) => ORDER.indexOf(b.state) - ORDER.indexOf(a.state));
    for (const cp of drawOrder) {
      plan.append(makeDot(cp));
      byState[cp.state] = (byState[cp.state] || 0) + 1;
    }
    legend.replaceChildren(...ORDER.filter((s) => byState[s]).map((s) =>
      h("li", { "data-testid": `floor-legend-${s}` },
        h("span", { class: `floor-swatch cov-${LOOK[s].cls}`, "aria-hidden": "true" }, LOOK[s].mark),
        ` ${t(`floor.state.${s}`)} ${byState[s]}`)));
    const sorted = [...view.checkpoints].sort((a, b) =>
      ORDER.indexOf(a.state) - ORDER.indexOf(b.state) || a.code.localeCompare(b.code));
    list.replaceChildren(...sorted.map((cp) => h("li", {},
      h("button", { type: "button", class: "floor-list-item", onclick: () => showInfo(cp) },
        h("span", { class: `floor-swatch cov-${LOOK[cp.state].cls}`, "aria-hidden": "true" }, LOOK[cp.state].mark),
        h("span", { class: "floor-list-name" }, cp.name),
        h("span", { class: "muted floor-list-time" }, timeText(cp.last_inspection_at, timezone))))));
    const current = view.checkpoints.find((cp) => cp.id === selected);
    if (current) showInfo(current); else info.hidden = true;
  }

  async function load() {
    say(t("floor.loading"));
    try {
      view = await api(`/api/floors/${floorId}/checkpoints?from=${from}&to=${to}`);
      draw();
      say(t("floor.count", { n: view.checkpoints.length }));
      screen.dataset.loaded = `${from}/${to}`;
    } catch (error) {
      say(errorText(error), true);
    }
  }

  drawPeriods();
  load();
  return screen;
}
