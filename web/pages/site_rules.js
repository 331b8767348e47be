// The site's renovation rules (装修管理规定): what a worker's pass costs (押金 deposit and 工本费
// fee), the hours noisy work is allowed, and how many months a permit runs when the desk gives no
// end date. Everyone on the site may read them (the check screen's noisy-hours banner comes from
// them); managers and admins change them here. Money is typed in 元 and sent in fen; times are
// typed as 24-hour HH:MM on the number pad (800 → 08:00) like the patrol plans' windows.

import { api, ApiError, NetworkError } from "../api.js";
import { h } from "../dom.js";
import { addStrings, getLang, t } from "../i18n.js";
import { newId } from "../store.js";

const EDITORS = ["manager", "admin"];
const MAX_WINDOWS = 6;

addStrings({
  "zh-CN": {
    "tile.renovation_rules": "装修规定",
    "rules.title": "装修管理规定",
    "rules.intro": "本项目的出入证押金和工本费、允许噪音施工的时段、装修期限。登记装修和办理出入证时未另行填写的，按这里的规定。",
    "rules.site": "项目",
    "rules.loading": "正在读取…",
    "rules.failed": "规定暂时无法加载",
    "rules.offline": "离线：连上服务器后才能查看和修改规定",
    "rules.now_allowed": "现在 {time}：允许噪音施工",
    "rules.now_forbidden": "现在 {time}：禁止噪音施工",
    "rules.timezone": "按项目时间（{tz}）",
    "rules.pass_deposit": "出入证押金（元/人）",
    "rules.pass_fee": "出入证工本费（元/人）",
    "rules.months": "装修期限（月）",
    "rules.months_hint": "登记时未填写结束日期的，按开工日期加这个月数",
    "rules.noisy": "允许噪音施工时段",
    "rules.noisy_hint": "24 小时制，如 0800 即 08:00；时段不能重叠，也不能跨夜。不设时段即全天禁止噪音施工。",
    "rules.noisy_none": "未设时段：全天禁止噪音施工",
    "rules.window_start": "开始时间",
    "rules.window_end": "结束时间",
    "rules.window_add": "+ 添加时段",
    "rules.window_remove": "删除此时段",
    "rules.defaults": "恢复默认",
    "rules.defaults_note": "默认：押金 {deposit} 元、工本费 {fee} 元、{months} 个月、{hours}",
    "rules.save": "保存规定",
    "rules.saving": "正在保存…",
    "rules.saved": "已保存",
    "rules.money_invalid": "请填写金额（元），最多两位小数",
    "rules.months_invalid": "装修期限为 1–36 个月",
    "rules.window_invalid": "时间格式为 HH:MM，结束须晚于开始",
    "rules.window_overlap": "与 {other} 重叠",
    "rules.too_many": "最多 {n} 个时段",
    "rules.windows_fix": "请修改标红的时段",
    "rules.read_only": "只有主管和管理员可以修改装修规定",
    "rules.history_money": "押金 {deposit} 元 · 工本费 {fee} 元",
    "rules.month_n": "{n} 个月",
    "rules.history": "修改记录",
    "rules.history_none": "尚未修改过，使用的是默认规定",
    "rules.history_row": "{at} {by}",
    "rules.someone": "（已删除的用户）",
  },
  en: {
    "tile.renovation_rules": "Renovation rules",
    "rules.title": "Renovation rules",
    "rules.intro": "This site's pass deposit and fee, the hours noisy work is allowed, and a permit's length. Registrations and passes use them unless the desk enters other values.",
    "rules.site": "Site",
    "rules.loading": "Loading…",
    "rules.failed": "The rules cannot be loaded right now",
    "rules.offline": "Offline: the rules need the server",
    "rules.now_allowed": "Now {time}: noisy work allowed",
    "rules.now_forbidden": "Now {time}: noisy work not allowed",
    "rules.timezone": "Site time ({tz})",
    "rules.pass_deposit": "Pass deposit (yuan per worker)",
    "rules.pass_fee": "Pass fee (yuan per worker)",
    "rules.months": "Permit length (months)",
    "rules.months_hint": "When no end date is entered, the permit ends this many months after it starts",
    "rules.noisy": "Hours noisy work is allowed",
    "rules.noisy_hint": "24-hour HH:MM, e.g. 0800 is 08:00; windows may not overlap or run overnight. No windows: noisy work is never allowed.",
    "rules.noisy_none": "No windows: noisy work is never allowed",
    "rules.window_start": "Start",
    "rules.window_end": "End",
    "rules.window_add": "+ Add a window",
    "rules.window_remove": "Remove this window",
    "rules.defaults": "Restore defaults",
    "rules.defaults_note": "Defaults: deposit {deposit} yuan, fee {fee} yuan, {months} months, {hours}",
    "rules.save": "Save the rules",
    "rules.saving": "Saving…",
    "rules.saved": "Saved",
    "rules.money_invalid": "Enter an amount in yuan, at most two decimals",
    "rules.months_invalid": "A permit runs 1–36 months",
    "rules.window_invalid": "Times are HH:MM and the end must be after the start",
    "rules.window_overlap": "Overlaps {other}",
    "rules.too_many": "At most {n} windows",
    "rules.windows_fix": "Correct the windows marked in red",
    "rules.read_only": "Only managers and administrators can change the renovation rules",
    "rules.history_money": "deposit {deposit} yuan · fee {fee} yuan",
    "rules.month_n": "{n} months",
    "rules.history": "Changes",
    "rules.history_none": "Never changed: the default rules apply",
    "rules.history_row": "{at} {by}",
    "rules.someone": "(deleted user)",
  },
});

/** "8:00" / "800" / "0800" / "08.00" / "8：00" → "08:00"; anything else is left as typed. */
export function normalTime(text) {
  const value = String(text).trim().replace(/[：.．]/, ":");
  const match = /^(\d{1,2}):?(\d{2})$/.exec(value);
  if (!match) return value;
  return `${match[1].padStart(2, "0")}:${match[2]}`;
}

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;

/** Fen → "100" / "5.5" / "0.05" (no trailing zeros). */
export function yuan(fen) {
  const whole = Math.floor(fen / 100);
  const cents = fen % 100;
  if (!cents) return String(whole);
  return `${whole}.${String(cents).padStart(2, "0")}`.replace(/0$/, "");
}

/** "100" / "5.5" / "0.05" (yuan) → fen, or null when it is not an amount. */
export function fen(text) {
  const value = String(text).trim().replace(/[，,]/g, "");
  const match = /^(\d{1,7})(?:\.(\d{1,2}))?$/.exec(value);
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] || "").padEnd(2, "0"));
}

/**
 * The windows' problems as the server would say them, so the form shows them before saving:
 * [{index, message}] (index null: the list as a whole).
 * @param {string[][]} windows
 */
export function windowProblems(windows) {
  const problems = [];
  if (windows.length > MAX_WINDOWS) problems.push({ index: null, message: t("rules.too_many", { n: MAX_WINDOWS }) });
  const good = [];
  windows.forEach(([start, end], index) => {
    if (!HHMM.test(start) || !HHMM.test(end) || end <= start) {
      problems.push({ index, message: t("rules.window_invalid") });
    } else {
      good.push({ index, start, end });
    }
  });
  good.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  for (let i = 1; i < good.length; i += 1) {
    if (good[i].start < good[i - 1].end) {
      problems.push({ index: good[i].index,
        message: t("rules.window_overlap", { other: `${good[i - 1].start}–${good[i - 1].end}` }) });
    }
  }
  return problems;
}

function hoursText(windows) {
  return windows.length ? windows.map(([a, b]) => `${a}–${b}`).join("、") : t("rules.noisy_none");
}

function siteOf(ctx) {
  const wanted = new URLSearchParams(location.search).get("site");
  const sites = ctx.me.sites || [];
  return sites.find((s) => String(s.id) === wanted) || ctx.site;
}

/** @param {import("../app.js").Ctx} ctx */
export function render(ctx) {
  const screen = h("section", { class: "desk site-rules", "data-testid": "rules-screen" },
    h("h1", { class: "page-title" }, t("rules.title")),
    h("p", { class: "muted" }, t("rules.intro")));
  let site = siteOf(ctx);
  if (!site) {
    screen.append(h("p", { class: "muted" }, t("home.no_site")));
    return screen;
  }
  const canEdit = EDITORS.includes(ctx.me.role);
  const sites = ctx.me.sites || [];
  const body = h("div", { class: "rules-body" }, h("p", { class: "muted" }, t("rules.loading")));

  if (sites.length > 1) {
    const select = h("select", { class: "input", id: "rules-site", "data-testid": "rules-site",
      onchange: () => {
        site = sites.find((s) => String(s.id) === select.value) || site;
        history.replaceState(null, "", `${location.pathname}?site=${site.id}`);
        load();
      } }, sites.map((s) => h("option", { value: String(s.id), selected: s.id === site.id }, s.name)));
    screen.append(h("div", { class: "field" },
      h("label", { class: "field-label", for: "rules-site" }, t("rules.site")), select));
  }
  screen.append(body);

  let generation = 0;
  async function load() {
    const mine = ++generation;
    body.replaceChildren(h("p", { class: "muted" }, t("rules.loading")));
    try {
      const rules = await api(`/api/sites/${site.id}/renovation-rules`);
      if (mine !== generation) return;
      draw(rules);
    } catch (error) {
      if (mine !== generation) return;
      body.replaceChildren(h("p", { class: "form-error", "data-testid": "rules-error" },
        error instanceof NetworkError ? t("rules.offline") : error.message || t("rules.failed")));
    }
  }

  function nowBanner(rules) {
    const allowed = rules.noisy_allowed_now;
    return h("div", { class: `rules-now ${allowed ? "rules-now-ok" : "rules-now-no"}`, role: "status",
      "data-testid": "rules-now", "data-allowed": String(allowed) },
    h("strong", null, t(allowed ? "rules.now_allowed" : "rules.now_forbidden", { time: rules.local_time })),
    h("span", { class: "muted" }, t("rules.timezone", { tz: rules.timezone })));
  }

  function historyCard(rules) {
    const list = h("ol", { class: "rules-history", "data-testid": "rules-history" });
    if (!rules.changes.length) {
      list.append(h("li", { class: "muted" }, t("rules.history_none")));
    }
    for (const change of rules.changes) {
      const at = new Date(change.at).toLocaleString(getLang(), { timeZone: rules.timezone,
        year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
        hour12: false });
      const r = change.rules || {};
      list.append(h("li", { class: "rules-history-row", "data-testid": "rules-history-row" },
        h("strong", null, t("rules.history_row", { at, by: change.by?.display_name || t("rules.someone") })),
        h("span", null, [
          t("rules.history_money", { deposit: yuan(r.pass_deposit ?? 0), fee: yuan(r.pass_fee ?? 0) }),
          t("rules.month_n", { n: r.renovation_months ?? "" }),
          hoursText(r.noisy_hours || []),
        ].join(" · "))));
    }
    return h("div", { class: "card" }, h("h2", { class: "section-title" }, t("rules.history")), list);
  }

  function draw(rules) {
    if (!canEdit) {
      body.replaceChildren(nowBanner(rules),
        h("dl", { class: "card rules-read", "data-testid": "rules-read" },
          h("dt", null, t("rules.pass_deposit")), h("dd", { "data-testid": "rules-read-deposit" }, yuan(rules.pass_deposit)),
          h("dt", null, t("rules.pass_fee")), h("dd", { "data-testid": "rules-read-fee" }, yuan(rules.pass_fee)),
          h("dt", null, t("rules.months")), h("dd", { "data-testid": "rules-read-months" }, String(rules.renovation_months)),
          h("dt", null, t("rules.noisy")), h("dd", { "data-testid": "rules-read-hours" }, hoursText(rules.noisy_hours))),
        h("p", { class: "muted" }, t("rules.read_only")));
      return;
    }
    body.replaceChildren(nowBanner(rules), form(rules), historyCard(rules));
  }

  function form(rules) {
    const status = h("p", { class: "status", role: "status", "aria-live": "polite", "data-testid": "rules-status" });
    const say = (text, error = false) => {
      status.className = error ? "status form-error" : "status";
      status.textContent = text;
    };
    const moneyInput = (id, value) => h("input", { class: "input rules-number", id, type: "text",
      inputmode: "decimal", autocomplete: "off", maxlength: 10, value: yuan(value), "data-testid": id });
    const deposit = moneyInput("rules-deposit", rules.pass_deposit);
    const fee = moneyInput("rules-fee", rules.pass_fee);
    const months = h("input", { class: "input rules-number", id: "rules-months", type: "number", min: 1,
      max: 36, inputmode: "numeric", value: String(rules.renovation_months), "data-testid": "rules-months" });

    const windowRows = h("ol", { class: "plan-windows rules-windows", "data-testid": "rules-windows" });
    const windowsNone = h("p", { class: "muted", "data-testid": "rules-windows-none" }, t("rules.noisy_none"));
    const windowsError = h("p", { class: "form-error", role: "alert", "data-testid": "rules-windows-error", hidden: true });
    const addWindow = h("button", { type: "button", class: "btn btn-secondary", "data-testid": "rules-window-add",
      onclick: () => {
        windowRows.append(windowRow());
        syncWindows();
        /** @type {HTMLInputElement} */ (windowRows.lastElementChild.querySelector("input")).focus();
      } }, t("rules.window_add"));

    function timeInput(value, testid, label) {
      const input = h("input", { class: "input plan-time", type: "text", inputmode: "numeric", maxlength: 5,
        placeholder: "08:00", autocomplete: "off", value, "data-testid": testid, "aria-label": label,
        onchange: () => {
          input.value = normalTime(input.value);
        } });
      return input;
    }
    function windowRow(start = "", end = "") {
      const row = h("li", { class: "plan-window", "data-testid": "rules-window" },
        timeInput(start, "rules-window-start", t("rules.window_start")),
        h("span", { class: "plan-dash", "aria-hidden": "true" }, "–"),
        timeInput(end, "rules-window-end", t("rules.window_end")),
        h("button", { type: "button", class: "btn btn-danger-outline plan-window-remove",
          "data-testid": "rules-window-remove", "aria-label": t("rules.window_remove"),
          onclick: () => {
            row.remove();
            syncWindows();
          } }, "✕"));
      return row;
    }
    function setWindows(windows) {
      windowRows.replaceChildren(...windows.map(([a, b]) => windowRow(a, b)));
      syncWindows();
    }
    function syncWindows() {
      const n = windowRows.children.length;
      windowsNone.hidden = n > 0;
      addWindow.disabled = n >= MAX_WINDOWS;
    }
    function readWindows() {
      return [...windowRows.children].map((row) => {
        const [a, b] = row.querySelectorAll("input");
        return [normalTime(/** @type {HTMLInputElement} */ (a).value), normalTime(/** @type {HTMLInputElement} */ (b).value)];
      });
    }
    setWindows(rules.noisy_hours);

    const d = rules.defaults;
    const restore = h("button", { type: "button", class: "btn btn-secondary", "data-testid": "rules-defaults",
      onclick: () => {
        deposit.value = yuan(d.pass_deposit);
        fee.value = yuan(d.pass_fee);
        months.value = String(d.renovation_months);
        setWindows(d.noisy_hours);
        say("");
      } }, t("rules.defaults"));

    // One client_id per change: kept while the same rules are re-sent after a lost connection.
    let pending = { key: "", id: "" };
    const save = h("button", { type: "submit", class: "btn btn-primary rules-save", "data-testid": "rules-save" },
      t("rules.save"));

    function mark(input, bad) {
      input.setAttribute("aria-invalid", bad ? "true" : "false");
      return bad;
    }

    const formEl = h("form", { class: "card rules-form", "data-testid": "rules-form", novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        for (const row of windowRows.children) {
          for (const input of row.querySelectorAll("input")) {
            /** @type {HTMLInputElement} */ (input).value = normalTime(/** @type {HTMLInputElement} */ (input).value);
            input.removeAttribute("aria-invalid");
          }
        }
        const depositFen = fen(deposit.value);
        const feeFen = fen(fee.value);
        const monthCount = Number(months.value);
        const windows = readWindows();
        const problems = windowProblems(windows);
        windowsError.hidden = !problems.length;
        windowsError.textContent = problems.map((p) => (p.index === null ? p.message
          : `${windows[p.index][0] || "?"}–${windows[p.index][1] || "?"}：${p.message}`)).join("；");
        for (const p of problems) {
          if (p.index !== null) {
            for (const input of windowRows.children[p.index].querySelectorAll("input")) input.setAttribute("aria-invalid", "true");
          }
        }
        const badMoney = [mark(deposit, depositFen === null), mark(fee, feeFen === null)].some(Boolean);
        const badMonths = mark(months, !Number.isInteger(monthCount) || monthCount < 1 || monthCount > 36);
        if (badMoney || badMonths || problems.length) {
          say(badMoney ? t("rules.money_invalid") : badMonths ? t("rules.months_invalid") : t("rules.windows_fix"), true);
          const first = /** @type {HTMLElement | null} */ (formEl.querySelector("[aria-invalid=true]"));
          first?.focus();
          return;
        }
        const rulesBody = { pass_deposit: depositFen, pass_fee: feeFen, noisy_hours: windows,
          renovation_months: monthCount };
        const key = JSON.stringify(rulesBody);
        if (pending.key !== key) pending = { key, id: newId() };
        save.disabled = true;
        say(t("rules.saving"));
        try {
          const saved = await api(`/api/sites/${site.id}/renovation-rules`, { method: "PUT",
            body: { ...rulesBody, client_id: pending.id } });
          pending = { key: "", id: "" };
          draw(saved);
          const newStatus = body.querySelector("[data-testid=rules-status]");
          if (newStatus) newStatus.textContent = t("rules.saved");
        } catch (error) {
          save.disabled = false;
          if (error instanceof NetworkError) {
            say(t("rules.offline"), true);
          } else if (error instanceof ApiError) {
            const field = error.detail?.[0]?.field || "";
            const where = /^noisy_hours\[(\d+)\]$/.exec(field);
            if (where && windowRows.children[Number(where[1])]) {
              for (const input of windowRows.children[Number(where[1])].querySelectorAll("input")) input.setAttribute("aria-invalid", "true");
            }
            say(error.message || t("rules.failed"), true);
          } else {
            say(t("rules.failed"), true);
          }
        }
      } },
    h("div", { class: "rules-grid" },
      h("div", { class: "field" }, h("label", { class: "field-label", for: "rules-deposit" }, t("rules.pass_deposit")), deposit),
      h("div", { class: "field" }, h("label", { class: "field-label", for: "rules-fee" }, t("rules.pass_fee")), fee),
      h("div", { class: "field" }, h("label", { class: "field-label", for: "rules-months" }, t("rules.months")), months,
        h("p", { class: "muted rules-hint" }, t("rules.months_hint")))),
    h("fieldset", { class: "rules-noisy" },
      h("legend", { class: "field-label" }, t("rules.noisy")),
      h("p", { class: "muted rules-hint" }, t("rules.noisy_hint")),
      windowRows, windowsNone, windowsError, addWindow),
    h("p", { class: "muted rules-hint", "data-testid": "rules-defaults-note" }, t("rules.defaults_note", {
      deposit: yuan(d.pass_deposit), fee: yuan(d.pass_fee), months: d.renovation_months,
      hours: hoursText(d.noisy_hours) })),
    status,
    h("div", { class: "rules-actions" }, restore, save));
    return formEl;
  }

  load();
  return screen;
}
