// Joint acceptance of a renovation on the phone (隐蔽工程验收 / 竣工验收):
//   /app/renovations/<id>/acceptance/hidden_works | completion
// The round as it stands: each party (客服, 工程, 保安; at completion also the owner and the
// contractor) with its sign-off — pass or fail, what is to be rectified, photos, and for the owner
// and contractor their drawn signature and name, taken on this phone. A failed round lists what to
// rectify and offers the re-inspection (the next round). Opening a round and every sign-off go
// through the outbox (store.js queueRequest, group "renovation:<id>", in order with the permit's
// other writes), so they are taken offline and sent exactly once. The last copy of the page is
// kept in IndexedDB and opens offline (server/renovation_acceptance.py has the rules).

import { api, ApiError, NetworkError } from "../api.js";
import { h, toast } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { photoField } from "../photo_field.js";
import { signaturePad } from "../signature.js";
import * as store from "../store.js";
import { queueAndSend } from "../sync.js";
import { departmentName } from "./work_orders.js";

export const KINDS = ["hidden_works", "completion"];
const DEPARTMENTS = ["customer_service", "engineering", "security"];
const PARTIES = { hidden_works: DEPARTMENTS, completion: [...DEPARTMENTS, "owner", "contractor"] };
/** The permit's status in which a round of each kind is held. */
const HELD_IN = { hidden_works: "in_progress", completion: "completed" };
const MANAGERS = new Set(["manager", "admin"]);
const DESK_ROLES = new Set(["dispatcher", "manager", "admin"]);
const STAFF_ROLES = new Set(["department", "inspector", "dispatcher"]);
const UNSENT = new Set(["pending", "sending", "rejected"]);

addStrings({
  "zh-CN": {
    "acc.title.hidden_works": "隐蔽工程验收",
    "acc.title.completion": "竣工验收",
    "acc.back": "返回装修许可",
    "acc.party.owner": "业主",
    "acc.party.contractor": "施工单位",
    "acc.round": "第 {n} 轮",
    "acc.round_reinspect": "第 {n} 轮（复验）",
    "acc.status.open": "验收中",
    "acc.status.passed": "通过",
    "acc.status.failed": "不通过",
    "acc.none": "尚未发起验收",
    "acc.wrong_state.hidden_works": "施工中（已开工）的装修才能进行隐蔽工程验收",
    "acc.wrong_state.completion": "完工登记后才能进行竣工验收",
    "acc.open": "发起验收",
    "acc.reopen": "发起复验（第 {n} 轮）",
    "acc.open_queued": "发起验收：待同步。同步后即可签署",
    "acc.passed_banner": "本轮验收全部通过",
    "acc.failed_banner": "本轮验收不通过，整改后复验",
    "acc.to_rectify": "整改项",
    "acc.waiting": "待签署",
    "acc.pass": "通过",
    "acc.fail": "不通过",
    "acc.signed_pass": "✓ 通过",
    "acc.signed_fail": "✗ 不通过",
    "acc.by": "{who} · {time}",
    "acc.queued_pass": "✓ 通过 · 待同步",
    "acc.queued_fail": "✗ 不通过 · 待同步",
    "acc.rejected": "未被受理：{reason}",
    "acc.items": "需整改的项目（每行一项）",
    "acc.items_needed": "不通过时请填写需要整改的项目",
    "acc.note": "备注",
    "acc.name.owner": "业主姓名",
    "acc.name.contractor": "施工单位负责人姓名",
    "acc.name_needed": "请填写签字人姓名",
    "acc.sign_here.owner": "请业主在下框签字",
    "acc.sign_here.contractor": "请施工单位负责人在下框签字",
    "acc.sign_needed": "请先签字",
    "acc.submit_pass": "确认通过",
    "acc.submit_fail": "确认不通过",
    "acc.cancel": "取消",
    "acc.saved": "已保存，联网后自动提交",
    "acc.history": "以往轮次",
    "acc.offline_copy": "离线：显示 {time} 保存的数据",
    "acc.not_saved": "离线，且此前未在本机打开过",
    "acc.load_failed": "无法加载：{message}",
    "acc.signature": "签名",
    "acc.outbox": "验收",
    "acc.screen": "联合验收",
  },
  en: {
    "acc.title.hidden_works": "Hidden works acceptance",
    "acc.title.completion": "Completion acceptance",
    "acc.back": "Back to the permit",
    "acc.party.owner": "Owner",
    "acc.party.contractor": "Contractor",
    "acc.round": "Round {n}",
    "acc.round_reinspect": "Round {n} (re-inspection)",
    "acc.status.open": "In progress",
    "acc.status.passed": "Passed",
    "acc.status.failed": "Failed",
    "acc.none": "No acceptance round yet",
    "acc.wrong_state.hidden_works": "Hidden works are accepted while the work is in progress",
    "acc.wrong_state.completion": "Completion is accepted once the completion is recorded",
    "acc.open": "Start the acceptance",
    "acc.reopen": "Start the re-inspection (round {n})",
    "acc.open_queued": "Starting the acceptance: waiting to send. Sign-offs once it is sent",
    "acc.passed_banner": "Every party passed this round",
    "acc.failed_banner": "This round failed: rectify, then re-inspect",
    "acc.to_rectify": "To rectify",
    "acc.waiting": "Not signed yet",
    "acc.pass": "Pass",
    "acc.fail": "Fail",
    "acc.signed_pass": "✓ Passed",
    "acc.signed_fail": "✗ Failed",
    "acc.by": "{who} · {time}",
    "acc.queued_pass": "✓ Pass · to send",
    "acc.queued_fail": "✗ Fail · to send",
    "acc.rejected": "Not accepted: {reason}",
    "acc.items": "What is to be rectified (one per line)",
    "acc.items_needed": "List what is to be rectified",
    "acc.note": "Note",
    "acc.name.owner": "Owner's name",
    "acc.name.contractor": "Contractor's person in charge",
    "acc.name_needed": "Enter the signer's name",
    "acc.sign_here.owner": "Owner: sign in the box below",
    "acc.sign_here.contractor": "Contractor: sign in the box below",
    "acc.sign_needed": "Sign first",
    "acc.submit_pass": "Confirm pass",
    "acc.submit_fail": "Confirm fail",
    "acc.cancel": "Cancel",
    "acc.saved": "Saved; it is sent when online",
    "acc.history": "Earlier rounds",
    "acc.offline_copy": "Offline: data saved {time}",
    "acc.not_saved": "Offline, and never opened on this phone",
    "acc.load_failed": "Could not load: {message}",
    "acc.signature": "Signature",
    "acc.outbox": "Acceptance",
    "acc.screen": "Joint acceptance",
  },
});

// ---------------------------------------------------------------------------------------------
// Who may do what (server/renovation_acceptance.py has the last word)

function actsFor(me, dept) {
  return STAFF_ROLES.has(me.role) && me?.department?.code === dept;
}

export function mayOpen(me) {
  return DESK_ROLES.has(me.role) || actsFor(me, "customer_service") || actsFor(me, "engineering");
}

export function maySignFor(me, party) {
  if (DEPARTMENTS.includes(party)) return MANAGERS.has(me.role) || actsFor(me, party);
  return party === "owner" || party === "contractor";
}

export function partyName(party) {
  return DEPARTMENTS.includes(party) ? departmentName(party) : t(`acc.party.${party}`);
}

function clockText(value) {
  const d = new Date(typeof value === "number" ? value : Date.parse(value));
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function unitText(permit) {
  const unit = permit?.unit;
  return unit ? [unit.building, unit.number].filter(Boolean).join(" ") : "";
}

function thumb(ref, alt = "") {
  return h("a", { href: ref.url, target: "_blank", rel: "noopener", class: "acc-thumb" },
    h("img", { src: ref.thumb_url, alt, loading: "lazy" }));
}

// ---------------------------------------------------------------------------------------------
// The screen

/** @param {import("../app.js").Ctx} ctx */
export function render(ctx) {
  const permitId = Number(ctx.params.id);
  const kind = KINDS.includes(ctx.params.kind) ? ctx.params.kind : "hidden_works";
  const cacheKey = `${permitId}:${kind}`;
  const screen = h("section", { class: "acc-screen", "data-testid": "acc-screen", "data-kind": kind,
    "data-source": "loading" }, h("p", { class: "muted" }, t("app.loading")));
  const view = { permit: null, rounds: [], source: "server", fetchedAt: null, form: null };

  async function load() {
    try {
      const [permit, rounds] = await Promise.all([
        api(`/api/renovations/${permitId}`),
        api(`/api/renovations/${permitId}/acceptances?kind=${kind}`),
      ]);
      Object.assign(view, { permit, rounds, source: "server", fetchedAt: null });
      store.putCached("acceptance", ctx.me.id, cacheKey, { permit, rounds }).catch(() => {});
    } catch (error) {
      const kept = await store.getCached("acceptance", ctx.me.id, cacheKey).catch(() => null);
      if (kept && error instanceof NetworkError) {
        Object.assign(view, { ...kept.value, source: "cache", fetchedAt: kept.fetched_at });
      } else {
        screen.dataset.source = "error";
        screen.replaceChildren(h("p", { class: "form-error", role: "alert", "data-testid": "acc-error" },
          error instanceof NetworkError ? t("acc.not_saved")
            : t("acc.load_failed", { message: error instanceof ApiError ? error.message : String(error) })));
        return;
      }
    }
    if (!view.form) await draw(); // a form opened meanwhile is kept; the next draw shows the news
  }

  async function draw() {
    const queued = (await store.listRequests(ctx.me.id, `renovation:${permitId}`).catch(() => []))
      .filter((row) => UNSENT.has(row.status));
    screen.dataset.source = view.source;
    screen.replaceChildren(...content(ctx, view, kind, queued, { draw, queue }));
  }

  async function queue(path, body, what, photos = []) {
    await queueAndSend({ path, body, photos, group: `renovation:${permitId}`,
      label: `${t("acc.outbox")} ${unitText(view.permit)} · ${what}`, userId: ctx.me.id },
    () => toast(t("acc.saved")));
    await draw();
  }

  const stop = () => {
    window.removeEventListener("xunjian:request-synced", onSynced);
    window.removeEventListener("xunjian:store-changed", onChanged);
  };
  // One of this permit's queued writes was taken: read the round again from the server.
  const onSynced = (event) => {
    if (!screen.isConnected) return stop();
    if (event.detail.group === `renovation:${permitId}` && !view.form) load();
  };
  let pending = null;
  const onChanged = () => {
    if (!screen.isConnected) return stop();
    if (!view.permit || view.form) return; // never redraw under a half-filled form
    clearTimeout(pending);
    pending = setTimeout(() => { if (!view.form) draw(); }, 150);
  };
  window.addEventListener("xunjian:request-synced", onSynced);
  window.addEventListener("xunjian:store-changed", onChanged);
  load();
  return screen;
}

function content(ctx, view, kind, queued, actions) {
  const { permit, rounds } = view;
  const parts = [];
  parts.push(h("a", { class: "btn acc-back no-print", href: `/app/renovations/${permit.id}`,
    "data-testid": "acc-back" }, "‹ ", t("acc.back")));
  parts.push(h("header", { class: "acc-head card" },
    h("h1", { class: "acc-title", "data-testid": "acc-title" }, t(`acc.title.${kind}`)),
    h("p", { class: "acc-unit" }, unitText(permit), " · ", permit.owner_name || ""),
    permit.contractor?.company
      ? h("p", { class: "muted" }, permit.contractor.company, permit.contractor.person ? ` · ${permit.contractor.person}` : "")
      : null));
  if (view.source === "cache") {
    parts.push(h("p", { class: "notice acc-offline", "data-testid": "acc-offline" },
      t("acc.offline_copy", { time: clockText(view.fetchedAt) })));
  }
  const rejected = queued.filter((row) => row.status === "rejected");
  for (const row of rejected) {
    parts.push(h("p", { class: "form-error", role: "alert", "data-testid": "acc-rejected" },
      t("acc.rejected", { reason: `${row.record.label}：${row.reason || row.code || ""}` })));
  }
  const current = rounds.length ? rounds[rounds.length - 1] : null;
  const openQueued = queued.some((row) => row.status !== "rejected" && row.record.path.endsWith("/acceptances")
    && row.record.body?.kind === kind);
  const held = permit.status === HELD_IN[kind];

  if (current) parts.push(roundCard(ctx, view, kind, current, queued, actions));
  else parts.push(h("p", { class: "muted acc-none", "data-testid": "acc-none" }, t("acc.none")));

  if (openQueued) {
    parts.push(h("p", { class: "notice acc-open-queued", "data-testid": "acc-open-queued" }, t("acc.open_queued")));
  } else if (!current || current.status === "failed") {
    if (!held) {
      if (!current || current.status !== "passed") {
        parts.push(h("p", { class: "muted", "data-testid": "acc-wrong-state" }, t(`acc.wrong_state.${kind}`)));
      }
    } else if (mayOpen(ctx.me)) {
      const n = (current?.round || 0) + 1;
      parts.push(h("button", { type: "button", class: "btn btn-primary btn-block acc-open no-print",
        "data-testid": "acc-open", onclick: (event) => {
          event.currentTarget.disabled = true;
          actions.queue(`/api/renovations/${permit.id}/acceptances`, { kind },
            n === 1 ? t("acc.open") : t("acc.reopen", { n }));
        } }, n === 1 ? t("acc.open") : t("acc.reopen", { n })));
    }
  }

  const earlier = rounds.slice(0, -1).reverse();
  if (earlier.length) {
    parts.push(h("section", { class: "card acc-history", "data-testid": "acc-history" },
      h("h2", { class: "section-title" }, t("acc.history")),
      h("ol", { class: "acc-history-list" }, earlier.map((r) => h("li", null,
        h("strong", null, t("acc.round", { n: r.round }), " · ", t(`acc.status.${r.status}`)),
        r.to_rectify.length
          ? h("ul", { class: "acc-items" }, r.to_rectify.map((x) => h("li", null, `${partyName(x.party)}：${x.item}`)))
          : null)))));
  }
  return parts;
}

function roundCard(ctx, view, kind, round, queued, actions) {
  const title = round.round > 1 ? t("acc.round_reinspect", { n: round.round }) : t("acc.round", { n: round.round });
  const banner = round.status === "passed"
    ? h("p", { class: "acc-banner is-passed", "data-testid": "acc-banner", "data-status": "passed" }, "✓ ", t("acc.passed_banner"))
    : round.status === "failed"
      ? h("div", { class: "acc-banner is-failed", "data-testid": "acc-banner", "data-status": "failed" },
        h("p", null, "✗ ", t("acc.failed_banner")),
        h("p", { class: "field-label" }, t("acc.to_rectify")),
        h("ul", { class: "acc-items", "data-testid": "acc-to-rectify" },
          round.to_rectify.map((x) => h("li", null, `${partyName(x.party)}：${x.item}`))))
      : null;
  return h("section", { class: "card acc-round", "data-testid": "acc-round", "data-round": String(round.round),
    "data-status": round.status },
  h("div", { class: "acc-round-head" },
    h("h2", { class: "section-title" }, title),
    h("span", { class: `acc-status acc-status-${round.status}`, "data-testid": "acc-round-status" },
      t(`acc.status.${round.status}`))),
  banner,
  h("ul", { class: "acc-parties" }, (round.parties || PARTIES[kind]).map((party) =>
    partyRow(ctx, view, round, party, queued, actions))));
}

function partyRow(ctx, view, round, party, queued, actions) {
  const signoff = round.signoffs?.[party];
  const waiting = queued.find((row) => row.status !== "rejected"
    && row.record.path.endsWith(`/acceptances/${round.id}/signoffs`) && row.record.body?.party === party);
  const head = h("div", { class: "acc-party-head" }, h("strong", { class: "acc-party-name" }, partyName(party)));
  const row = h("li", { class: "acc-party", "data-testid": `acc-party-${party}`,
    "data-state": signoff ? (signoff.passed ? "passed" : "failed") : waiting ? "queued" : "waiting" }, head);
  if (signoff) {
    head.append(h("span", { class: `acc-verdict ${signoff.passed ? "is-pass" : "is-fail"}` },
      t(signoff.passed ? "acc.signed_pass" : "acc.signed_fail")));
    if (signoff.items?.length) {
      row.append(h("ul", { class: "acc-items" }, signoff.items.map((item) => h("li", null, item))));
    }
    if (signoff.note) row.append(h("p", { class: "acc-note" }, signoff.note));
    const pictures = [...(signoff.photos || []).map((p) => thumb(p))];
    if (signoff.signature) pictures.push(thumb(signoff.signature, t("acc.signature")));
    if (pictures.length) row.append(h("div", { class: "acc-thumbs" }, pictures));
    row.append(h("p", { class: "muted acc-by" },
      signoff.signer_name ? `${signoff.signer_name} · ` : "",
      t("acc.by", { who: signoff.by?.display_name || "", time: clockText(signoff.at) })));
    return row;
  }
  if (waiting) {
    head.append(h("span", { class: "acc-verdict is-queued", "data-testid": "acc-queued" },
      t(waiting.record.body.passed ? "acc.queued_pass" : "acc.queued_fail")));
    return row;
  }
  if (round.status !== "open" || !maySignFor(ctx.me, party)) {
    head.append(h("span", { class: "muted" }, t("acc.waiting")));
    return row;
  }
  if (view.form?.party === party && view.form.round === round.id) {
    row.append(signoffForm(ctx, view, round, party, view.form.passed, actions));
    return row;
  }
  const choose = (passed) => () => {
    view.form = { party, round: round.id, passed };
    actions.draw();
  };
  row.append(h("div", { class: "acc-pair no-print" },
    h("button", { type: "button", class: "btn acc-pass", "data-testid": `acc-pass-${party}`, onclick: choose(true) },
      "✓ ", t("acc.pass")),
    h("button", { type: "button", class: "btn acc-fail", "data-testid": `acc-fail-${party}`, onclick: choose(false) },
      "✗ ", t("acc.fail"))));
  return row;
}

function signoffForm(ctx, view, round, party, passed, actions) {
  const error = h("p", { class: "form-error", role: "alert", hidden: true, "data-testid": "acc-form-error" });
  const fail = (key) => {
    error.textContent = t(key);
    error.hidden = false;
  };
  const people = party === "owner" || party === "contractor";
  const fields = [];
  const items = h("textarea", { class: "input acc-textarea", rows: "4", "data-testid": "acc-items",
    "aria-label": t("acc.items"), oninput: () => { error.hidden = true; } });
  if (!passed) fields.push(h("label", { class: "field" }, h("span", { class: "field-label" }, t("acc.items")), items));
  const photos = photoField({ testid: "acc-form", onStart: () => { error.hidden = true; }, onProblem: (key) => fail(key) });
  fields.push(photos.el);
  const note = h("textarea", { class: "input acc-textarea", rows: "2", "data-testid": "acc-note", "aria-label": t("acc.note") });
  fields.push(h("label", { class: "field" }, h("span", { class: "field-label" }, t("acc.note")), note));
  let name = null;
  let pad = null;
  if (people) {
    name = h("input", { class: "input", "data-testid": "acc-name", autocomplete: "off",
      value: party === "owner" ? view.permit.owner_name || "" : view.permit.contractor?.person || "",
      oninput: () => { error.hidden = true; } });
    pad = signaturePad({ onChange: () => { if (!pad?.isEmpty()) error.hidden = true; } });
    fields.push(h("label", { class: "field" }, h("span", { class: "field-label" }, t(`acc.name.${party}`)), name),
      h("p", { class: "field-label" }, t(`acc.sign_here.${party}`)), pad.el);
  }
  const cancel = () => {
    photos.release();
    view.form = null;
    actions.draw();
  };
  const submit = h("button", { type: "button", class: `btn btn-block ${passed ? "btn-primary acc-pass" : "acc-fail"}`,
    "data-testid": "acc-submit", onclick: async () => {
      error.hidden = true;
      if (photos.busy()) return;
      const list = items.value.split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
      if (!passed && !list.length) return fail("acc.items_needed");
      if (people && !name.value.trim()) return fail("acc.name_needed");
      if (people && pad.isEmpty()) return fail("acc.sign_needed");
      submit.disabled = true;
      const body = { party, passed, items: list, note: note.value.trim(), photos: photos.photos.map((p) => p.sha256) };
      const files = [...photos.photos];
      if (people) {
        const signature = await pad.toPhoto();
        body.signature = signature.sha256;
        body.name = name.value.trim();
        files.push(signature);
      }
      view.form = null;
      await actions.queue(`/api/renovations/${view.permit.id}/acceptances/${round.id}/signoffs`, body,
        `${partyName(party)} ${t(passed ? "acc.pass" : "acc.fail")}`, files);
      photos.release();
    } }, t(passed ? "acc.submit_pass" : "acc.submit_fail"));
  return h("div", { class: "acc-form", "data-testid": "acc-form", "data-passed": String(passed) },
    fields, error,
    h("div", { class: "acc-form-buttons" },
      h("button", { type: "button", class: "btn", "data-testid": "acc-cancel", onclick: cancel }, t("acc.cancel")),
      submit));
}
