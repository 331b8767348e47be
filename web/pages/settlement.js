// The deposit settlement of a renovation (装修押金结算单): /app/renovations/<id>/settlement
// The statement — both deposits, every deduction (amount, reason, photos, who), what comes out of
// the contractor's deposit first and then the owner's, what neither covers, the refunds and the
// workers' pass deposits — printable on A4. 工程 or the desk add deductions (with photos) while
// the permit is completed or its completion accepted, and withdraw them until the manager
// approves; the manager approves once completion is accepted, which freezes the numbers and
// settles the deposit. Adding and approving go through the outbox (store.js queueRequest, group
// "renovation:<id>"); withdrawing needs the network. The last copy opens offline.

import { api, ApiError, NetworkError } from "../api.js";
import { h, toast } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { photoField } from "../photo_field.js";
import * as store from "../store.js";
import { queueAndSend } from "../sync.js";

const MANAGERS = new Set(["manager", "admin"]);
const DESK_ROLES = new Set(["dispatcher", "manager", "admin"]);
const STAFF_ROLES = new Set(["department", "inspector", "dispatcher"]);
const UNSENT = new Set(["pending", "sending", "rejected"]);

addStrings({
  "zh-CN": {
    "set.title": "装修押金结算单",
    "set.back": "返回装修许可",
    "set.unit": "房号",
    "set.owner": "业主",
    "set.contractor": "施工单位",
    "set.period": "装修期限",
    "set.period_value": "{from} 至 {to}",
    "set.contractor_deposit": "施工单位押金",
    "set.owner_deposit": "业主押金",
    "set.total": "扣款合计",
    "set.from_contractor": "从施工单位押金扣除",
    "set.from_owner": "从业主押金扣除",
    "set.uncovered": "超出押金部分（另行追缴）",
    "set.refund_contractor": "退还施工单位",
    "set.refund_owner": "退还业主",
    "set.pass_refund": "退还出入证押金",
    "set.deductions": "扣款明细",
    "set.no_deductions": "无扣款",
    "set.col.reason": "扣款原因",
    "set.col.amount": "金额",
    "set.col.by": "登记人",
    "set.col.photos": "照片",
    "set.withdraw": "撤销",
    "set.withdraw_offline": "撤销扣款需要联网",
    "set.add": "登记扣款",
    "set.amount": "扣款金额（元）",
    "set.reason": "扣款原因",
    "set.amount_bad": "请输入大于 0 的金额（元，最多两位小数）",
    "set.reason_needed": "请填写扣款原因",
    "set.save": "保存扣款",
    "set.cancel": "取消",
    "set.approve": "经理审批结算",
    "set.approve_confirm": "审批后金额冻结，押金结算完成，确定吗？",
    "set.approve_wait": "竣工验收通过后经理才能审批结算",
    "set.approved": "已审批：{who} · {time}",
    "set.not_approved": "未审批",
    "set.queued": "待同步：{label}",
    "set.rejected": "未被受理：{label}：{reason}",
    "set.saved": "已保存，联网后自动提交",
    "set.print": "打印结算单",
    "set.sign_manager": "经理审批（签字）",
    "set.sign_owner": "业主（签字）",
    "set.sign_contractor": "施工单位（签字）",
    "set.offline_copy": "离线：显示 {time} 保存的数据",
    "set.not_saved": "离线，且此前未在本机打开过",
    "set.load_failed": "无法加载：{message}",
    "set.yuan": "{n} 元",
    "set.outbox": "结算",
  },
  en: {
    "set.title": "Renovation deposit settlement",
    "set.back": "Back to the permit",
    "set.unit": "Unit",
    "set.owner": "Owner",
    "set.contractor": "Contractor",
    "set.period": "Period",
    "set.period_value": "{from} to {to}",
    "set.contractor_deposit": "Contractor's deposit",
    "set.owner_deposit": "Owner's deposit",
    "set.total": "Deductions in total",
    "set.from_contractor": "From the contractor's deposit",
    "set.from_owner": "From the owner's deposit",
    "set.uncovered": "Beyond the deposits (to be claimed)",
    "set.refund_contractor": "Refund to the contractor",
    "set.refund_owner": "Refund to the owner",
    "set.pass_refund": "Pass deposits refunded",
    "set.deductions": "Deductions",
    "set.no_deductions": "No deductions",
    "set.col.reason": "Reason",
    "set.col.amount": "Amount",
    "set.col.by": "Recorded by",
    "set.col.photos": "Photos",
    "set.withdraw": "Withdraw",
    "set.withdraw_offline": "Withdrawing a deduction needs the network",
    "set.add": "Add a deduction",
    "set.amount": "Amount (yuan)",
    "set.reason": "Reason",
    "set.amount_bad": "Enter an amount over 0 (yuan, at most two decimals)",
    "set.reason_needed": "Enter the reason",
    "set.save": "Save the deduction",
    "set.cancel": "Cancel",
    "set.approve": "Approve the settlement",
    "set.approve_confirm": "Approving freezes the amounts and settles the deposit. Continue?",
    "set.approve_wait": "The manager approves once the completion is accepted",
    "set.approved": "Approved: {who} · {time}",
    "set.not_approved": "Not approved",
    "set.queued": "To send: {label}",
    "set.rejected": "Not accepted: {label}: {reason}",
    "set.saved": "Saved; it is sent when online",
    "set.print": "Print the statement",
    "set.sign_manager": "Manager (signature)",
    "set.sign_owner": "Owner (signature)",
    "set.sign_contractor": "Contractor (signature)",
    "set.offline_copy": "Offline: data saved {time}",
    "set.not_saved": "Offline, and never opened on this phone",
    "set.load_failed": "Could not load: {message}",
    "set.yuan": "¥{n}",
    "set.outbox": "Settlement",
  },
});

function actsFor(me, dept) {
  return STAFF_ROLES.has(me.role) && me?.department?.code === dept;
}

/** 工程 or the desk record deductions (server/renovation_acceptance.py may_deduct). */
export function mayDeduct(me) {
  return MANAGERS.has(me.role) || DESK_ROLES.has(me.role) || actsFor(me, "engineering")
    || actsFor(me, "customer_service");
}

/** 1234567 fen → "12,345.67 元". */
export function yuan(fen) {
  const n = Number(fen || 0) / 100;
  return t("set.yuan", { n: n.toLocaleString("zh-CN", { minimumFractionDigits: Number.isInteger(n) ? 0 : 2,
    maximumFractionDigits: 2 }) });
}

/** "123.4" (yuan) → 12340 (fen); null unless a positive amount with at most two decimals. */
export function toFen(text) {
  const clean = String(text || "").replace(/[,，\s元¥]/g, "");
  if (!/^\d+(\.\d{1,2})?$/.test(clean)) return null;
  const fen = Math.round(Number(clean) * 100);
  return fen > 0 && fen <= 2_000_000_000 ? fen : null;
}

function clockText(value) {
  const d = new Date(typeof value === "number" ? value : Date.parse(value));
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function unitText(s) {
  return [s.unit?.building, s.unit?.number].filter(Boolean).join(" ");
}

/** @param {import("../app.js").Ctx} ctx */
export function render(ctx) {
  const permitId = Number(ctx.params.id);
  const screen = h("section", { class: "set-screen", "data-testid": "set-screen", "data-source": "loading" },
    h("p", { class: "muted" }, t("app.loading")));
  const view = { s: null, source: "server", fetchedAt: null, adding: false };

  async function load() {
    try {
      view.s = await api(`/api/renovations/${permitId}/settlement`);
      view.source = "server";
      store.putCached("settlement", ctx.me.id, permitId, view.s).catch(() => {});
    } catch (error) {
      const kept = await store.getCached("settlement", ctx.me.id, permitId).catch(() => null);
      if (kept && error instanceof NetworkError) {
        Object.assign(view, { s: kept.value, source: "cache", fetchedAt: kept.fetched_at });
      } else {
        screen.dataset.source = "error";
        screen.replaceChildren(h("p", { class: "form-error", role: "alert", "data-testid": "set-error" },
          error instanceof NetworkError ? t("set.not_saved")
            : t("set.load_failed", { message: error instanceof ApiError ? error.message : String(error) })));
        return;
      }
    }
    await draw();
  }

  async function draw() {
    const queued = (await store.listRequests(ctx.me.id, `renovation:${permitId}`).catch(() => []))
      .filter((row) => UNSENT.has(row.status) && /\/(deductions|settlement\/approve)$/.test(row.record.path));
    screen.dataset.source = view.source;
    screen.dataset.approved = String(Boolean(view.s.approved));
    screen.replaceChildren(...content(ctx, view, queued, { draw, load, queue }));
  }

  async function queue(path, body, what, photos = []) {
    await queueAndSend({ path, body, photos, group: `renovation:${permitId}`,
      label: `${t("set.outbox")} ${unitText(view.s)} · ${what}`, userId: ctx.me.id },
    () => toast(t("set.saved")));
    await draw();
  }

  const stop = () => {
    window.removeEventListener("xunjian:request-synced", onSynced);
    window.removeEventListener("xunjian:store-changed", onChanged);
  };
  const onSynced = (event) => {
    if (!screen.isConnected) return stop();
    const response = event.detail.response;
    if (event.detail.group === `renovation:${permitId}` && response && response.permit_id === permitId
      && "refund_owner" in response) {
      view.s = response;
      view.source = "server";
      store.putCached("settlement", ctx.me.id, permitId, response).catch(() => {});
      if (!view.adding) draw();
    }
  };
  let pending = null;
  const onChanged = () => {
    if (!screen.isConnected) return stop();
    if (!view.s || view.adding) return;
    clearTimeout(pending);
    pending = setTimeout(() => { if (!view.adding) draw(); }, 150);
  };
  window.addEventListener("xunjian:request-synced", onSynced);
  window.addEventListener("xunjian:store-changed", onChanged);
  load();
  return screen;
}

function money(label, fen, testid, strong = false) {
  return h("tr", { class: strong ? "is-strong" : null },
    h("th", { scope: "row" }, label),
    h("td", { class: "set-money", "data-testid": testid, "data-fen": String(fen) }, yuan(fen)));
}

function content(ctx, view, queued, actions) {
  const s = view.s;
  const parts = [];
  parts.push(h("div", { class: "set-bar no-print" },
    h("a", { class: "btn", href: `/app/renovations/${s.permit_id}`, "data-testid": "set-back" }, "‹ ", t("set.back")),
    h("button", { type: "button", class: "btn", "data-testid": "set-print", onclick: () => window.print() },
      t("set.print"))));
  if (view.source === "cache") {
    parts.push(h("p", { class: "notice no-print", "data-testid": "set-offline" },
      t("set.offline_copy", { time: clockText(view.fetchedAt) })));
  }
  for (const row of queued) {
    parts.push(h("p", { class: row.status === "rejected" ? "form-error no-print" : "notice no-print",
      "data-testid": row.status === "rejected" ? "set-rejected" : "set-queued" },
    row.status === "rejected"
      ? t("set.rejected", { label: row.record.label, reason: row.reason || row.code || "" })
      : t("set.queued", { label: row.record.label })));
  }

  const editable = Boolean(s.editable) && !s.approved;
  const deductionRows = s.deductions.map((d) => h("tr", { "data-testid": "set-deduction", "data-id": String(d.id) },
    h("td", null, d.reason),
    h("td", { class: "set-money" }, yuan(d.amount)),
    h("td", null, d.by?.display_name || "", h("br"), h("span", { class: "muted" }, clockText(d.at))),
    h("td", null, h("div", { class: "set-thumbs" }, d.photos.map((p) =>
      h("a", { href: p.url, target: "_blank", rel: "noopener" }, h("img", { src: p.thumb_url, alt: "", loading: "lazy" }))))),
    editable && mayDeduct(ctx.me)
      ? h("td", { class: "no-print" }, h("button", { type: "button", class: "btn set-withdraw",
        "data-testid": "set-withdraw", onclick: async (event) => {
          const button = event.currentTarget;
          button.disabled = true;
          try {
            view.s = await api(`/api/renovations/${s.permit_id}/deductions/${d.id}`, { method: "DELETE" });
            view.source = "server";
            await actions.draw();
          } catch (error) {
            button.disabled = false;
            toast(error instanceof NetworkError ? t("set.withdraw_offline")
              : error instanceof ApiError ? error.message : String(error));
          }
        } }, t("set.withdraw")))
      : null));

  parts.push(h("article", { class: "card set-statement", "data-testid": "set-statement" },
    h("h1", { class: "set-title" }, t("set.title")),
    h("p", { class: "set-site" }, s.site || ""),
    h("table", { class: "set-table set-parties" }, h("tbody", null,
      h("tr", null, h("th", { scope: "row" }, t("set.unit")), h("td", { "data-testid": "set-unit" }, unitText(s))),
      h("tr", null, h("th", { scope: "row" }, t("set.owner")), h("td", null, s.owner_name || "")),
      h("tr", null, h("th", { scope: "row" }, t("set.contractor")),
        h("td", null, [s.contractor?.company, s.contractor?.person].filter(Boolean).join(" · "))),
      h("tr", null, h("th", { scope: "row" }, t("set.period")),
        h("td", null, t("set.period_value", { from: s.starts_on, to: s.ends_on }))))),
    h("table", { class: "set-table set-numbers", "data-testid": "set-numbers" }, h("tbody", null,
      money(t("set.contractor_deposit"), s.contractor_deposit, "set-contractor-deposit"),
      money(t("set.owner_deposit"), s.owner_deposit, "set-owner-deposit"),
      money(t("set.total"), s.total, "set-total", true),
      money(t("set.from_contractor"), s.from_contractor, "set-from-contractor"),
      money(t("set.from_owner"), s.from_owner, "set-from-owner"),
      s.uncovered ? money(t("set.uncovered"), s.uncovered, "set-uncovered", true) : null,
      money(t("set.refund_contractor"), s.refund_contractor, "set-refund-contractor", true),
      money(t("set.refund_owner"), s.refund_owner, "set-refund-owner", true),
      money(t("set.pass_refund"), s.pass_deposits_refund, "set-pass-refund"))),
    h("h2", { class: "section-title" }, t("set.deductions")),
    s.deductions.length
      ? h("table", { class: "set-table set-deductions" },
        h("thead", null, h("tr", null,
          h("th", null, t("set.col.reason")), h("th", null, t("set.col.amount")),
          h("th", null, t("set.col.by")), h("th", null, t("set.col.photos")),
          editable && mayDeduct(ctx.me) ? h("th", { class: "no-print" }) : null)),
        h("tbody", null, deductionRows))
      : h("p", { class: "muted", "data-testid": "set-no-deductions" }, t("set.no_deductions")),
    h("p", { class: s.approved ? "set-approved" : "muted", "data-testid": "set-approval" },
      s.approved ? t("set.approved", { who: s.approved_by?.display_name || "", time: clockText(s.approved_at) })
        : t("set.not_approved")),
    h("div", { class: "set-signatures" },
      h("p", null, t("set.sign_manager"), "：________"),
      h("p", null, t("set.sign_owner"), "：________"),
      h("p", null, t("set.sign_contractor"), "：________"))));

  const approving = queued.some((row) => row.status !== "rejected" && row.record.path.endsWith("/settlement/approve"));
  if (editable && mayDeduct(ctx.me)) parts.push(addForm(ctx, view, actions));
  if (!s.approved && MANAGERS.has(ctx.me.role) && !approving) {
    if (s.status === "completion_accepted") {
      parts.push(h("button", { type: "button", class: "btn btn-primary btn-block set-approve no-print",
        "data-testid": "set-approve", onclick: async (event) => {
          if (!window.confirm(t("set.approve_confirm"))) return;
          event.currentTarget.disabled = true;
          await actions.queue(`/api/renovations/${s.permit_id}/settlement/approve`, {}, t("set.approve"));
        } }, t("set.approve")));
    } else {
      parts.push(h("p", { class: "muted no-print", "data-testid": "set-approve-wait" }, t("set.approve_wait")));
    }
  }
  return parts;
}

function addForm(ctx, view, actions) {
  if (!view.adding) {
    return h("button", { type: "button", class: "btn btn-block set-add no-print", "data-testid": "set-add",
      onclick: () => {
        view.adding = true;
        actions.draw();
      } }, "+ ", t("set.add"));
  }
  const error = h("p", { class: "form-error", role: "alert", hidden: true, "data-testid": "set-form-error" });
  const fail = (key) => {
    error.textContent = t(key);
    error.hidden = false;
  };
  const amount = h("input", { class: "input", inputmode: "decimal", autocomplete: "off", "data-testid": "set-amount",
    id: "set-amount", oninput: () => { error.hidden = true; } });
  const reason = h("textarea", { class: "input", rows: "2", id: "set-reason", "data-testid": "set-reason",
    oninput: () => { error.hidden = true; } });
  const photos = photoField({ testid: "set-form", onStart: () => { error.hidden = true; }, onProblem: (key) => fail(key) });
  const close = () => {
    photos.release();
    view.adding = false;
    actions.draw();
  };
  const save = h("button", { type: "button", class: "btn btn-primary", "data-testid": "set-save", onclick: async () => {
    error.hidden = true;
    if (photos.busy()) return;
    const fen = toFen(amount.value);
    if (fen === null) return fail("set.amount_bad");
    if (!reason.value.trim()) return fail("set.reason_needed");
    save.disabled = true;
    view.adding = false;
    await actions.queue(`/api/renovations/${view.s.permit_id}/deductions`,
      { amount: fen, reason: reason.value.trim(), photos: photos.photos.map((p) => p.sha256) },
      `${t("set.add")} ${yuan(fen)}`, [...photos.photos]);
    photos.release();
  } }, t("set.save"));
  return h("section", { class: "card set-form no-print", "data-testid": "set-form" },
    h("h2", { class: "section-title" }, t("set.add")),
    h("div", { class: "field" }, h("label", { class: "field-label", for: "set-amount" }, t("set.amount")), amount),
    h("div", { class: "field" }, h("label", { class: "field-label", for: "set-reason" }, t("set.reason")), reason),
    photos.el, error,
    h("div", { class: "acc-form-buttons" },
      h("button", { type: "button", class: "btn", "data-testid": "set-cancel", onclick: close }, t("set.cancel")),
      save));
}
