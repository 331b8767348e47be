// Patrol plans (巡检计划) of a site: which checkpoints are to be checked, how often, in which time
// windows and by whom. Managers (and admins) make, change and delete them; dispatchers read them.
// The server is the judge of a plan's rules (the compliance engine's own checks), so the form
// sends what was entered and shows the server's reason, in Chinese, next to the save button.

import { api, ApiError, NetworkError } from "../api.js";
import { h } from "../dom.js";
import { addStrings, getLang, t } from "../i18n.js";

const EDITORS = ["manager", "admin"];
const KINDS = ["facility", "vacant_unit", "signage", "renovation"];
const PERS = ["day", "week", "month"];
const ROLES = ["patrol", "inspector", "department", "dispatcher", "manager"];
// The departments of server/reference.py (codes are fixed; there is no list endpoint).
const DEPARTMENTS = {
  engineering: ["工程部", "Engineering"],
  security: ["秩序部", "Security"],
  cleaning: ["保洁绿化部", "Cleaning & landscaping"],
  customer_service: ["客服中心", "Customer service"],
};

addStrings({
  "zh-CN": {
    "tile.plans": "巡检计划",
    "plans.title": "巡检计划",
    "plans.new": "新建计划",
    "plans.edit": "编辑",
    "plans.edit_label": "编辑 {name}",
    "plans.delete": "删除",
    "plans.delete_label": "删除 {name}",
    "plans.delete_confirm": "删除计划“{name}”？它的巡检记录统计和漏检确认也会一并删除。",
    "plans.deleted": "已删除“{name}”",
    "plans.coverage": "查看巡检覆盖图",
    "plans.loading": "正在读取计划…",
    "plans.empty": "本项目还没有巡检计划",
    "plans.failed": "计划暂时无法加载",
    "plans.offline": "离线：连上服务器后才能查看和修改计划",
    "plans.read_only": "只有主管和管理员可以修改计划",
    "plans.per.day": "每天",
    "plans.per.week": "每周",
    "plans.per.month": "每月",
    "plans.freq": "{per} {times} 次",
    "plans.overnight": "（跨夜）",
    "plans.points": "{n} 个点位",
    "plans.anyone": "本项目任何人",
    "plans.people": "人员",
    "plans.dates_label": "日期",
    "plans.dates_open": "{from} 起",
    "plans.dates": "{from} 至 {to}",
    "plans.grace": "宽限 {n} 分钟",
    "plans.form_new": "新建巡检计划",
    "plans.form_edit": "编辑巡检计划",
    "plans.back": "返回计划列表",
    "plans.name": "计划名称",
    "plans.name_placeholder": "如：1栋每日巡视",
    "plans.frequency": "频次",
    "plans.times": "每期次数",
    "plans.times_auto": "每天的计划有时段时，次数等于时段数",
    "plans.windows": "时段",
    "plans.window_start": "开始",
    "plans.window_end": "结束",
    "plans.window_add": "＋ 添加时段",
    "plans.window_remove": "删除此时段",
    "plans.window_night": "跨夜：结束在次日",
    "plans.windows_none": "不设时段：每期按次数平均分段（如每天 4 次 = 0–6、6–12、12–18、18–24 点）",
    "plans.windows_hint": "24 小时制，如 08:00；结束早于开始表示跨夜，如 22:00–06:00",
    "plans.grace_minutes": "宽限（分钟）",
    "plans.grace_hint": "时段结束后这段时间内扫码算“迟到”，之后算“漏检”",
    "plans.checkpoints": "检查点",
    "plans.buildings": "楼栋",
    "plans.whole_building": "整栋",
    "plans.floors_pick": "只选部分楼层",
    "plans.floors_chosen": "已选 {n} 层",
    "plans.kinds": "类型",
    "plans.kinds_hint": "不选类型 = 所有类型",
    "plans.selection_kept": "此计划还限定了 {types} 种设施类型、另加 {checkpoints} 个指定点位，保存时保持不变",
    "plans.count": "将包含 {n} 个点位",
    "plans.count_after_save": "保存后显示包含的点位数",
    "plans.assignees": "指定人员",
    "plans.role": "或按角色",
    "plans.department": "部门",
    "plans.none": "不限",
    "plans.people_hint": "不指定任何人 = 本项目任何人都可完成",
    "plans.starts_on": "开始日期",
    "plans.ends_on": "结束日期（可不填）",
    "plans.save": "保存计划",
    "plans.saving": "正在保存…",
    "plans.saved": "已保存。将包含 {n} 个点位",
    "plans.users_failed": "人员列表暂时无法加载",
    "plans.not_found": "找不到该计划",
    "plans.error.invalid_plan": "巡检计划设置有误",
    "plans.error.plan_no_checkpoints": "按所选楼栋、楼层和类型找不到任何检查点，请调整选择",
    "plans.error.unknown_department": "找不到该部门",
    "plans.error.invalid_request": "填写有误，请检查时间格式（HH:MM）和数字",
    "plans.rule.overlap": "时段不能重叠",
    "plans.rule.one_per_window": "每天的计划有时段时，每天次数必须等于时段数",
    "plans.rule.grace_gap": "宽限时间必须短于两个时段结束之间的间隔",
    "plans.rule.grace_slot": "宽限时间必须短于一个时段",
    "plans.rule.dates": "结束日期早于开始日期",
    "plans.rule.times": "次数至少为 1",
    "plans.rule.grace_negative": "宽限时间不能为负",
    "plans.rule.name": "请填写计划名称",
    "plans.rule.assignee": "所选人员不是本项目成员",
    "plans.rule.other_site": "所选楼栋、楼层或检查点不属于本项目",
    "plans.rule.move": "计划不能移到其他项目",
  },
  en: {
    "tile.plans": "Patrol plans",
    "plans.title": "Patrol plans",
    "plans.new": "New plan",
    "plans.edit": "Edit",
    "plans.edit_label": "Edit {name}",
    "plans.delete": "Delete",
    "plans.delete_label": "Delete {name}",
    "plans.delete_confirm": "Delete the plan “{name}”? Its rounds and acknowledgements go with it.",
    "plans.deleted": "Deleted “{name}”",
    "plans.coverage": "Open the coverage map",
    "plans.loading": "Loading plans…",
    "plans.empty": "This site has no patrol plans yet",
    "plans.failed": "The plans cannot be loaded right now",
    "plans.offline": "Offline: plans need the server",
    "plans.read_only": "Only managers and administrators can change plans",
    "plans.per.day": "Daily",
    "plans.per.week": "Weekly",
    "plans.per.month": "Monthly",
    "plans.freq": "{per}, {times}×",
    "plans.overnight": " (overnight)",
    "plans.points": "{n} checkpoints",
    "plans.anyone": "anyone on the site",
    "plans.people": "People",
    "plans.dates_label": "Dates",
    "plans.dates_open": "from {from}",
    "plans.dates": "{from} to {to}",
    "plans.grace": "grace {n} min",
    "plans.form_new": "New patrol plan",
    "plans.form_edit": "Edit patrol plan",
    "plans.back": "Back to the plans",
    "plans.name": "Name",
    "plans.name_placeholder": "e.g. Building 1 daily round",
    "plans.frequency": "Frequency",
    "plans.times": "Rounds per period",
    "plans.times_auto": "A daily plan with windows has one round per window",
    "plans.windows": "Time windows",
    "plans.window_start": "From",
    "plans.window_end": "To",
    "plans.window_add": "+ Add a window",
    "plans.window_remove": "Remove this window",
    "plans.window_night": "Overnight: ends the next day",
    "plans.windows_none": "No windows: the period is cut into equal slots (4 a day = 0–6, 6–12, 12–18, 18–24)",
    "plans.windows_hint": "24-hour clock, e.g. 08:00; an end before the start runs across midnight, e.g. 22:00–06:00",
    "plans.grace_minutes": "Grace (minutes)",
    "plans.grace_hint": "A scan this long after the window closes is late; after that, missed",
    "plans.checkpoints": "Checkpoints",
    "plans.buildings": "Buildings",
    "plans.whole_building": "whole building",
    "plans.floors_pick": "Only some floors",
    "plans.floors_chosen": "{n} floors chosen",
    "plans.kinds": "Kinds",
    "plans.kinds_hint": "No kind chosen = every kind",
    "plans.selection_kept": "This plan is also limited to {types} facility types and adds {checkpoints} named checkpoints; saving keeps them",
    "plans.count": "Includes {n} checkpoints",
    "plans.count_after_save": "The number of checkpoints shows after saving",
    "plans.assignees": "Named people",
    "plans.role": "Or by role",
    "plans.department": "Department",
    "plans.none": "Any",
    "plans.people_hint": "Nobody named = anyone on the site may do it",
    "plans.starts_on": "Starts on",
    "plans.ends_on": "Ends on (optional)",
    "plans.save": "Save plan",
    "plans.saving": "Saving…",
    "plans.saved": "Saved. Includes {n} checkpoints",
    "plans.users_failed": "The people cannot be loaded right now",
    "plans.not_found": "No such plan",
    "plans.error.invalid_plan": "The patrol plan is not valid",
    "plans.error.plan_no_checkpoints": "No checkpoint matches the chosen buildings, floors and kinds",
    "plans.error.unknown_department": "No such department",
    "plans.error.invalid_request": "Check the times (HH:MM) and numbers",
    "plans.rule.overlap": "Time windows must not overlap",
    "plans.rule.one_per_window": "A daily plan with windows has one round per window",
    "plans.rule.grace_gap": "Grace must be shorter than the gap between two window ends",
    "plans.rule.grace_slot": "Grace must be shorter than one slot of the period",
    "plans.rule.dates": "The end date is before the start date",
    "plans.rule.times": "At least one round",
    "plans.rule.grace_negative": "Grace cannot be negative",
    "plans.rule.name": "Give the plan a name",
    "plans.rule.assignee": "A chosen person is not a member of this site",
    "plans.rule.other_site": "A chosen building, floor or checkpoint is not on this site",
    "plans.rule.move": "A plan cannot move to another site",
  },
});

// The engine's reasons (server/compliance.py, server/plans.py) are English sentences; each known
// one gets its own words here, anything else is shown as it came.
const RULES = [
  [/must not overlap/, "plans.rule.overlap"],
  [/one round per window/, "plans.rule.one_per_window"],
  [/gap between two window ends/, "plans.rule.grace_gap"],
  [/one slot of the period/, "plans.rule.grace_slot"],
  [/ends_on is before starts_on/, "plans.rule.dates"],
  [/times must be at least/, "plans.rule.times"],
  [/grace must not be negative/, "plans.rule.grace_negative"],
  [/name is empty/, "plans.rule.name"],
  [/assignee is not a member/, "plans.rule.assignee"],
  [/is not on this site/, "plans.rule.other_site"],
  [/move to another site/, "plans.rule.move"],
];

/** The rules a person fixes in the time windows section. */
const WINDOW_RULES = new Set(["plans.rule.overlap", "plans.rule.one_per_window", "plans.rule.grace_gap",
  "plans.rule.grace_slot"]);

function ruleKey(message) {
  for (const [pattern, key] of RULES) if (pattern.test(message)) return key;
  return null;
}

function ruleText(message) {
  for (const [pattern, key] of RULES) if (pattern.test(message)) return t(key);
  return message;
}

/** A plan request whose error keeps the server's `detail` (api.js drops it). */
/** The words for a failed save: the code's sentence, then each reason the server gave. */
function saveErrorText(error) {
  if (error instanceof NetworkError) return t("plans.offline");
  if (!(error instanceof ApiError)) return t("plans.failed");
  const known = {
    invalid_plan: "plans.error.invalid_plan",
    plan_no_checkpoints: "plans.error.plan_no_checkpoints",
    unknown_department: "plans.error.unknown_department",
    invalid_request: "plans.error.invalid_request",
  }[error.code];
  const head = known ? t(known) : error.message || t("plans.failed");
  const reasons = (error.detail || [])
    .map((d) => (d && typeof d.message === "string" ? ruleText(d.message) : null))
    .filter(Boolean);
  if (error.code !== "invalid_plan" || !reasons.length) return head;
  return `${head}：${reasons.join("；")}`;
}

function deptName(code) {
  const names = DEPARTMENTS[code];
  if (!names) return code;
  return getLang() === "en" ? names[1] : names[0];
}

/** "08:30–17:30", "22:00–06:00（跨夜）". */
function windowText([start, end]) {
  return `${start}–${end}${end <= start ? t("plans.overnight") : ""}`;
}

/** "每天 1 次 08:30–17:30" / "每周 1 次", each window kept on one line. */
function frequency(plan) {
  const base = t("plans.freq", { per: t(`plans.per.${plan.per}`), times: plan.times });
  const windows = (plan.windows || []).map((w, i) =>
    [i ? "、" : " ", h("span", { class: "plan-nowrap" }, windowText(w))]);
  return [h("span", { class: "plan-nowrap" }, base), windows];
}

function peopleText(plan) {
  const parts = [];
  if (plan.assignees?.length) parts.push(plan.assignees.map((a) => a.display_name).join("、"));
  const group = [plan.role ? t(`role.${plan.role}`) : null,
    plan.department ? deptName(plan.department) : null].filter(Boolean).join(" · ");
  if (group) parts.push(group);
  return parts.length ? parts.join(" ＋ ") : t("plans.anyone");
}

function datesText(plan) {
  return plan.ends_on
    ? t("plans.dates", { from: plan.starts_on, to: plan.ends_on })
    : t("plans.dates_open", { from: plan.starts_on });
}

function siteOf(ctx) {
  const q = new URLSearchParams(location.search);
  const sites = ctx.me.sites || [];
  return sites.find((s) => String(s.id) === q.get("site")) || ctx.site;
}

// ---------------------------------------------------------------------------------------------
// The list

/** @param {import("../app.js").Ctx} ctx */
export function renderList(ctx) {
  const screen = h("section", { class: "desk plans", "data-testid": "plans-screen" },
    h("h1", { class: "page-title" }, t("plans.title")));
  const site = siteOf(ctx);
  if (!site) {
    screen.append(h("p", { class: "muted" }, t("home.no_site")));
    return screen;
  }
  const canEdit = EDITORS.includes(ctx.me.role);
  const status = h("p", { class: "status", role: "status", "aria-live": "polite", "data-testid": "plans-status" });
  const list = h("ol", { class: "plans-list", "data-testid": "plans-list" });

  const actions = h("div", { class: "plans-actions" },
    canEdit ? h("a", { class: "btn btn-primary", href: "/app/plans/new", "data-testid": "plans-new" },
      t("plans.new")) : null,
    h("a", { class: "btn btn-secondary", href: "/app/coverage", "data-testid": "plans-coverage" },
      t("plans.coverage")));
  screen.append(actions);
  if (!canEdit) screen.append(h("p", { class: "muted", "data-testid": "plans-read-only" }, t("plans.read_only")));
  screen.append(status, list);

  function say(text, error = false) {
    status.className = error ? "status form-error" : "status";
    status.textContent = text;
  }

  function item(plan) {
    return h("li", { class: "card plan-item", "data-testid": "plan-item", "data-plan-id": plan.id },
      h("h2", { class: "plan-name", "data-testid": "plan-name" }, plan.name),
      h("p", { class: "plan-freq", "data-testid": "plan-frequency" }, frequency(plan)),
      h("dl", { class: "plan-facts" },
        h("dt", null, t("plans.checkpoints")),
        h("dd", { "data-testid": "plan-count" }, t("plans.points", { n: plan.checkpoint_count })),
        h("dt", null, t("plans.people")),
        h("dd", { "data-testid": "plan-people" }, peopleText(plan)),
        h("dt", null, t("plans.dates_label")),
        h("dd", { "data-testid": "plan-dates" }, datesText(plan),
          plan.grace_minutes ? ` · ${t("plans.grace", { n: plan.grace_minutes })}` : "")),
      canEdit ? h("div", { class: "plan-buttons" },
        h("a", { class: "btn btn-secondary", href: `/app/plans/${plan.id}`, "data-testid": "plan-edit",
          "aria-label": t("plans.edit_label", { name: plan.name }) }, t("plans.edit")),
        h("button", { type: "button", class: "btn btn-danger-outline", "data-testid": "plan-delete",
          "aria-label": t("plans.delete_label", { name: plan.name }),
          onclick: (e) => remove(plan, e.currentTarget) }, t("plans.delete"))) : null);
  }

  async function load() {
    list.replaceChildren(h("li", { class: "muted" }, t("plans.loading")));
    try {
      const plans = await api(`/api/plans?site=${site.id}`);
      list.replaceChildren(...(plans.length ? plans.map(item)
        : [h("li", { class: "muted", "data-testid": "plans-empty" }, t("plans.empty"))]));
    } catch (error) {
      list.replaceChildren(h("li", { class: "form-error", "data-testid": "plans-error" },
        error instanceof NetworkError ? t("plans.offline") : error.message || t("plans.failed")));
    }
  }

  async function remove(plan, button) {
    if (!window.confirm(t("plans.delete_confirm", { name: plan.name }))) return;
    button.disabled = true;
    try {
      await api(`/api/plans/${plan.id}`, { method: "DELETE" });
      say(t("plans.deleted", { name: plan.name }));
      await load();
    } catch (error) {
      button.disabled = false;
      say(error instanceof NetworkError ? t("plans.offline") : error.message || t("plans.failed"), true);
    }
  }

  load();
  return screen;
}

// ---------------------------------------------------------------------------------------------
// The form: /app/plans/new and /app/plans/<id>

/** "8:00" / "800" / "0800" / "08.00" → "08:00"; anything else is left for the server to refuse. */
function normalTime(text) {
  const value = text.trim().replace(/[：.．]/, ":");
  const match = /^(\d{1,2}):?(\d{2})$/.exec(value);
  if (!match) return value;
  return `${match[1].padStart(2, "0")}:${match[2]}`;
}

function todayLocal() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** @param {import("../app.js").Ctx} ctx */
export function renderForm(ctx) {
  const editing = ctx.params.id ? Number(ctx.params.id) : null;
  const screen = h("section", { class: "desk plans plan-form-screen", "data-testid": "plan-form-screen" },
    h("a", { class: "btn btn-secondary plans-back", href: "/app/plans", "data-testid": "plan-back" },
      `‹ ${t("plans.back")}`),
    h("h1", { class: "page-title" }, t(editing ? "plans.form_edit" : "plans.form_new")));
  const site = siteOf(ctx);
  if (!site) {
    screen.append(h("p", { class: "muted" }, t("home.no_site")));
    return screen;
  }
  if (!EDITORS.includes(ctx.me.role)) {
    screen.append(h("p", { class: "muted" }, t("plans.read_only")));
    return screen;
  }
  const loading = h("p", { class: "muted" }, t("plans.loading"));
  screen.append(loading);

  Promise.all([
    api(`/api/sites/${site.id}/buildings`),
    api("/api/users").catch(() => null),
    editing ? api(`/api/plans/${editing}`) : Promise.resolve(null),
  ]).then(([buildings, users, plan]) => {
    loading.replaceWith(form(buildings, users, plan));
  }).catch((error) => {
    loading.className = "form-error";
    loading.setAttribute("data-testid", "plan-load-error");
    loading.textContent = error instanceof NetworkError ? t("plans.offline")
      : error instanceof ApiError && error.status === 404 ? t("plans.not_found")
        : error.message || t("plans.failed");
  });

  function field(label, control, hint) {
    return h("div", { class: "field" },
      h("label", { class: "field-label", for: control.id }, label), control,
      hint ? h("p", { class: "muted plan-hint" }, hint) : null);
  }

  function checkChip(testid, value, label, checked, onchange) {
    return h("label", { class: "plan-check" },
      h("input", { type: "checkbox", value: String(value), checked, "data-testid": testid, onchange }),
      h("span", null, label));
  }

  function form(buildings, users, plan) {
    let planId = plan ? plan.id : null;
    const selection = plan?.selection || { buildings: [], floors: [], kinds: [], types: [], checkpoints: [] };

    // -- name and frequency -------------------------------------------------------------------
    const name = h("input", { class: "input", id: "plan-name", "data-testid": "plan-name-input",
      maxlength: 100, required: true, placeholder: t("plans.name_placeholder"), value: plan?.name || "" });
    let per = plan?.per || "day";
    const perButtons = PERS.map((p) => h("button", { type: "button", class: "btn plan-per",
      "data-testid": `plan-per-${p}`, "aria-pressed": String(p === per),
      onclick: () => {
        per = p;
        perButtons.forEach((b, i) => b.setAttribute("aria-pressed", String(PERS[i] === per)));
        syncTimes();
      } }, t(`plans.per.${p}`)));
    const times = h("input", { class: "input plan-number", id: "plan-times", type: "number", min: 1,
      max: 1000, inputmode: "numeric", "data-testid": "plan-times", value: String(plan?.times || 1) });
    const timesNote = h("p", { class: "muted plan-hint", "data-testid": "plan-times-note" });

    // -- windows -------------------------------------------------------------------------------
    const windowRows = h("ol", { class: "plan-windows", "data-testid": "plan-windows" });
    const windowsNone = h("p", { class: "muted plan-hint" }, t("plans.windows_none"));
    const windowsError = h("p", { class: "form-error", role: "alert", "data-testid": "plan-windows-error",
      hidden: true });
    function windowRow(start = "", end = "") {
      const startInput = timeInput(start, "plan-window-start", t("plans.window_start"));
      const endInput = timeInput(end, "plan-window-end", t("plans.window_end"));
      const night = h("span", { class: "plan-night", "data-testid": "plan-window-night", hidden: true },
        t("plans.window_night"));
      const showNight = () => {
        const [a, b] = [normalTime(startInput.value), normalTime(endInput.value)];
        night.hidden = !(/^\d\d:\d\d$/.test(a) && /^\d\d:\d\d$/.test(b) && b <= a);
      };
      startInput.addEventListener("input", showNight);
      endInput.addEventListener("input", showNight);
      showNight();
      const row = h("li", { class: "plan-window", "data-testid": "plan-window" },
        startInput, h("span", { class: "plan-dash", "aria-hidden": "true" }, "–"), endInput,
        h("button", { type: "button", class: "btn btn-danger-outline plan-window-remove",
          "data-testid": "plan-window-remove", "aria-label": t("plans.window_remove"),
          onclick: () => {
            row.remove();
            syncTimes();
          } }, "✕"), night);
      return row;
    }
    for (const [start, end] of plan?.windows || []) windowRows.append(windowRow(start, end));
    const addWindow = h("button", { type: "button", class: "btn btn-secondary plan-window-add",
      "data-testid": "plan-window-add", onclick: () => {
        windowRows.append(windowRow());
        syncTimes();
        /** @type {HTMLInputElement} */ (windowRows.lastElementChild.querySelector("input")).focus();
      } }, t("plans.window_add"));

    /** A 24-hour HH:MM box with the number pad (a native time picker shows AM/PM on some phones). */
    function timeInput(value, testid, label) {
      const input = h("input", { class: "input plan-time", type: "text", inputmode: "numeric",
        maxlength: 5, placeholder: "08:00", autocomplete: "off", value, "data-testid": testid,
        "aria-label": label, onchange: () => {
          input.value = normalTime(input.value);
        } });
      return input;
    }

    function readWindows() {
      return [...windowRows.children].map((row) => {
        const [a, b] = row.querySelectorAll("input");
        return [normalTime(/** @type {HTMLInputElement} */ (a).value),
          normalTime(/** @type {HTMLInputElement} */ (b).value)];
      });
    }

    /** A daily plan with windows has one round per window: keep the count in step. */
    function syncTimes() {
      const n = windowRows.children.length;
      windowsNone.hidden = n > 0;
      const tied = per === "day" && n > 0;
      if (tied) times.value = String(n);
      times.readOnly = tied;
      timesNote.textContent = tied ? t("plans.times_auto") : "";
    }

    const grace = h("input", { class: "input plan-number", id: "plan-grace", type: "number", min: 0,
      max: 10080, inputmode: "numeric", "data-testid": "plan-grace", value: String(plan?.grace_minutes ?? 30) });

    // -- checkpoints ---------------------------------------------------------------------------
    const chosenFloors = new Set(selection.floors);
    const buildingBoxes = buildings.map((b) => {
      const floorIds = new Set(b.floors.map((f) => f.id));
      const floorCount = h("span", { class: "muted plan-floor-count" });
      const showCount = () => {
        const n = [...floorIds].filter((id) => chosenFloors.has(id)).length;
        floorCount.textContent = n ? t("plans.floors_chosen", { n }) : "";
      };
      showCount();
      const floors = h("details", { class: "plan-floors", open: b.floors.some((f) => chosenFloors.has(f.id)) },
        h("summary", { class: "plan-floors-summary" }, t("plans.floors_pick"), " ", floorCount),
        h("div", { class: "plan-chips" }, b.floors.map((f) => checkChip("plan-floor", f.id, f.name,
          chosenFloors.has(f.id), (e) => {
            if (e.currentTarget.checked) chosenFloors.add(f.id);
            else chosenFloors.delete(f.id);
            showCount();
          }))));
      return h("div", { class: "plan-building", "data-building-id": b.id },
        checkChip("plan-building", b.id, `${b.name} · ${t("plans.whole_building")}`,
          selection.buildings.includes(b.id), null),
        b.floors.length ? floors : null);
    });
    const kindBoxes = h("div", { class: "plan-chips" }, KINDS.map((k) =>
      checkChip(`plan-kind-${k}`, k, t(`kind.${k}`), selection.kinds.includes(k), null)));
    // Types and single checkpoints (made through the API) have no controls here; they are kept.
    const extra = (selection.types?.length || 0) + (selection.checkpoints?.length || 0);
    const kept = extra ? h("p", { class: "muted plan-hint", "data-testid": "plan-selection-kept" },
      t("plans.selection_kept", { types: selection.types?.length || 0,
        checkpoints: selection.checkpoints?.length || 0 })) : null;
    const count = h("p", { class: "plan-count", role: "status", "aria-live": "polite", "data-testid": "plan-count-live" },
      plan ? t("plans.count", { n: plan.checkpoint_count }) : t("plans.count_after_save"));

    // -- people --------------------------------------------------------------------------------
    const chosenPeople = new Set((plan?.assignees || []).map((a) => a.id));
    const people = (users || []).filter((u) => u.active || chosenPeople.has(u.id))
      .filter((u) => u.role !== "admin" || chosenPeople.has(u.id));
    const peopleBoxes = users
      ? h("div", { class: "plan-chips plan-people" }, people.map((u) => checkChip("plan-assignee", u.id,
        `${u.display_name || u.username} · ${t(`role.${u.role}`)}`, chosenPeople.has(u.id), null)))
      : h("p", { class: "form-error" }, t("plans.users_failed"));
    const role = h("select", { class: "input", id: "plan-role", "data-testid": "plan-role" },
      h("option", { value: "" }, t("plans.none")),
      ROLES.map((r) => h("option", { value: r, selected: plan?.role === r }, t(`role.${r}`))));
    const department = h("select", { class: "input", id: "plan-department", "data-testid": "plan-department" },
      h("option", { value: "" }, t("plans.none")),
      Object.keys(DEPARTMENTS).map((d) => h("option", { value: d, selected: plan?.department === d }, deptName(d))));

    // -- dates ---------------------------------------------------------------------------------
    const startsOn = h("input", { class: "input", id: "plan-starts", type: "date", "data-testid": "plan-starts-on",
      value: plan?.starts_on || todayLocal() });
    const endsOn = h("input", { class: "input", id: "plan-ends", type: "date", "data-testid": "plan-ends-on",
      value: plan?.ends_on || "" });

    // -- save ----------------------------------------------------------------------------------
    const error = h("p", { class: "form-error", role: "alert", "data-testid": "plan-error", hidden: true });
    const saved = h("p", { class: "status plan-saved", role: "status", "data-testid": "plan-saved", hidden: true });
    const save = h("button", { type: "submit", class: "btn btn-primary btn-block", "data-testid": "plan-save" },
      t("plans.save"));

    function checkedValues(selector) {
      return [...el.querySelectorAll(`${selector}:checked`)].map((i) => /** @type {HTMLInputElement} */ (i).value);
    }

    function body() {
      const floorsSent = [];
      const buildingsSent = [];
      for (const b of buildings) {
        const mine = b.floors.filter((f) => chosenFloors.has(f.id)).map((f) => f.id);
        const whole = /** @type {HTMLInputElement} */ (el.querySelector(
          `.plan-building[data-building-id="${b.id}"] [data-testid=plan-building]`)).checked;
        if (whole) buildingsSent.push(b.id);
        else floorsSent.push(...mine);
      }
      return {
        site: site.id,
        name: name.value.trim(),
        per,
        times: Number(times.value) || 0,
        windows: readWindows(),
        grace_minutes: Number(grace.value) || 0,
        selection: { ...selection, buildings: buildingsSent, floors: floorsSent,
          kinds: checkedValues("[data-testid^=plan-kind-]") },
        assignees: checkedValues("[data-testid=plan-assignee]").map(Number),
        role: role.value || null,
        department: department.value || null,
        starts_on: startsOn.value || null,
        ends_on: endsOn.value || null,
      };
    }

    const el = h("form", { class: "plan-form", "data-testid": "plan-form", novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        error.hidden = true;
        windowsError.hidden = true;
        windowRows.querySelectorAll("input").forEach((i) => i.removeAttribute("aria-invalid"));
        saved.hidden = true;
        save.disabled = true;
        save.textContent = t("plans.saving");
        try {
          const result = planId
            ? await api(`/api/plans/${planId}`, { method: "PUT", body: body() })
            : await api("/api/plans", { method: "POST", body: body() });
          planId = result.id;
          history.replaceState(null, "", `/app/plans/${result.id}`);
          count.textContent = t("plans.count", { n: result.checkpoint_count });
          saved.textContent = t("plans.saved", { n: result.checkpoint_count });
          saved.hidden = false;
        } catch (failure) {
          error.textContent = saveErrorText(failure);
          error.hidden = false;
          // A rule about the windows is also said where they are fixed, and the form goes there.
          const windowKeys = (failure.detail || [])
            .map((d) => ruleKey(d?.message || "")).filter((key) => WINDOW_RULES.has(key));
          if (windowKeys.length) {
            windowsError.textContent = windowKeys.map((key) => t(key)).join("；");
            windowsError.hidden = false;
            windowRows.querySelectorAll("input").forEach((i) => i.setAttribute("aria-invalid", "true"));
            windowsError.scrollIntoView({ block: "center" });
          } else {
            error.scrollIntoView({ block: "center" });
          }
        } finally {
          save.disabled = false;
          save.textContent = t("plans.save");
        }
      } },
    h("fieldset", { class: "card plan-section" },
      field(t("plans.name"), name),
      h("div", { class: "field" },
        h("span", { class: "field-label" }, t("plans.frequency")),
        h("div", { class: "plan-pers", role: "group", "aria-label": t("plans.frequency") }, perButtons)),
      field(t("plans.times"), times), timesNote),
    h("fieldset", { class: "card plan-section" },
      h("legend", { class: "section-title" }, t("plans.windows")),
      h("p", { class: "muted plan-hint", "data-testid": "plan-windows-hint" }, t("plans.windows_hint")),
      windowRows, windowsNone, windowsError, addWindow,
      field(t("plans.grace_minutes"), grace, t("plans.grace_hint"))),
    h("fieldset", { class: "card plan-section" },
      h("legend", { class: "section-title" }, t("plans.checkpoints")),
      h("span", { class: "field-label" }, t("plans.buildings")),
      h("div", { class: "plan-buildings" }, buildingBoxes),
      h("span", { class: "field-label" }, t("plans.kinds")),
      kindBoxes,
      h("p", { class: "muted plan-hint" }, t("plans.kinds_hint")),
      kept, count),
    h("fieldset", { class: "card plan-section" },
      h("legend", { class: "section-title" }, t("plans.people")),
      h("span", { class: "field-label" }, t("plans.assignees")),
      peopleBoxes,
      h("div", { class: "plan-two" }, field(t("plans.role"), role), field(t("plans.department"), department)),
      h("p", { class: "muted plan-hint" }, t("plans.people_hint"))),
    h("fieldset", { class: "card plan-section" },
      h("div", { class: "plan-two" }, field(t("plans.starts_on"), startsOn), field(t("plans.ends_on"), endsOn))),
    h("div", { class: "plan-submit" }, error, saved, save));
    syncTimes();
    return el;
  }

  return screen;
}
