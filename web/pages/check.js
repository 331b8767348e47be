// The check screen at /c/<code>?v=&s= (a scanned label) or /c/<code>?manual=1 (a typed code):
// the checkpoint's checklist, built from its template out of the catalogue kept on the phone, so it
// works with no signal. One big pass / fail / n-a choice per item, "all pass" for a clean
// checkpoint (scan → all pass → save: two taps), a note and photos for a failed item (a photo is
// required where the template says so), the signage defect type, and for a vacant unit the closing
// confirmations (power off, closed, locked, keys back) that a person must tick one by one.
//
// Saving writes the record and its photos to the phone (store.js) and goes back to the scanner;
// the outbox sends it when the server is reachable. The unsaved form is kept as a draft (it
// survives a reload or a dead battery), and no app update is applied while it is dirty.

import { api, downloadFile } from "../api.js";
import { blockUpdatesWhile } from "../app.js";
import { h } from "../dom.js";
import { addStrings, getLang, t } from "../i18n.js";
import { PhotoError, preparePhoto } from "../photos.js";
import {
  clearDraft, findCheckpoint, getCatalogue, loadDraft, localTimestamp, newId, saveDraft, saveRecord,
} from "../store.js";
import { syncNow } from "../sync.js";
import { reportDownload } from "./labels.js";
import { glanceCard } from "./renovation_glance.js";

addStrings({
  "zh-CN": {
    "check.loading": "正在打开检查点…",
    "check.unknown": "本机没有这个检查点的资料",
    "check.unknown_hint": "请联网后重新打开应用以更新检查点目录，或检查编号是否正确。",
    "check.no_catalogue": "检查点目录还没有下载到本机。请在有网络时打开一次应用。",
    "check.no_template": "这个检查点没有检查表，请联系主管。",
    "check.back_to_scan": "继续扫码",
    "check.location": "位置",
    "check.kind": "类型",
    "check.manual": "手动输入，未验证：这次检查会记录为未经扫码核实。",
    "check.last": "上次检查",
    "check.last_none": "还没有检查记录",
    "check.last_pass": "合格",
    "check.last_fail": "有问题",
    "check.last_local": "本机记录，待同步",
    "check.orders": "未关闭工单（{n}）",
    "check.orders_none": "没有未关闭的工单",
    "check.order_open": "已有工单",
    "check.items": "检查项目",
    "check.pass": "合格",
    "check.fail": "不合格",
    "check.na": "不适用",
    "check.all_pass": "全部合格",
    "check.save": "保存",
    "check.saving": "正在保存…",
    "check.saved": "已保存，待同步",
    "check.save_failed": "保存失败：{reason}",
    "check.note": "问题说明",
    "check.note_placeholder": "写下看到的问题（可选）",
    "check.general_note": "备注（可选）",
    "check.photo_take": "拍照",
    "check.photo_gallery": "从相册选",
    "check.photo_remove": "删除照片",
    "check.photo_working": "正在处理照片…",
    "check.photo_bad": "无法读取这张照片，请重拍",
    "check.photo_needed": "不合格需拍照：拍照后才能保存",
    "check.defect": "问题类型",
    "check.answer_needed": "请选择：合格、不合格或不适用",
    "check.confirm_title": "离开前确认",
    "check.confirm_hint": "逐项确认后才能保存（“全部合格”不会替您勾选）。",
    "check.confirm_needed": "请确认",
    "check.todo_answer": "{n} 项未选",
    "check.todo_photo": "{n} 项需拍照",
    "check.todo_confirm": "{n} 项需确认",
    "check.ready": "可以保存",
    "check.draft_restored": "已恢复未保存的记录",
    "check.discard": "清空重填",
    "check.discard_confirm": "清空这张表上填写的内容和照片？",
    "check.raise": "报修",
  },
  en: {
    "check.loading": "Opening the checkpoint…",
    "check.unknown": "This checkpoint is not on the phone",
    "check.unknown_hint": "Open the app once with network to update the checkpoint list, or check the code.",
    "check.no_catalogue": "The checkpoint list has not been downloaded yet. Open the app once with network.",
    "check.no_template": "This checkpoint has no checklist. Ask your manager.",
    "check.back_to_scan": "Scan again",
    "check.location": "Location",
    "check.kind": "Kind",
    "check.manual": "Typed in, not verified: this check is recorded as not scanned.",
    "check.last": "Last check",
    "check.last_none": "Never checked",
    "check.last_pass": "Pass",
    "check.last_fail": "Problems found",
    "check.last_local": "on this phone, not synced yet",
    "check.orders": "Open work orders ({n})",
    "check.orders_none": "No open work orders",
    "check.order_open": "Work order open",
    "check.items": "Checklist",
    "check.pass": "Pass",
    "check.fail": "Fail",
    "check.na": "N/A",
    "check.all_pass": "All pass",
    "check.save": "Save",
    "check.saving": "Saving…",
    "check.saved": "Saved, waiting to sync",
    "check.save_failed": "Not saved: {reason}",
    "check.note": "What is wrong",
    "check.note_placeholder": "Describe the problem (optional)",
    "check.general_note": "Note (optional)",
    "check.photo_take": "Take photo",
    "check.photo_gallery": "From gallery",
    "check.photo_remove": "Remove photo",
    "check.photo_working": "Processing the photo…",
    "check.photo_bad": "This photo cannot be read. Take it again",
    "check.photo_needed": "Failed: take a photo before saving",
    "check.defect": "Defect",
    "check.answer_needed": "Choose pass, fail or N/A",
    "check.confirm_title": "Before you leave",
    "check.confirm_hint": "Tick each one to save (\"All pass\" does not tick these for you).",
    "check.confirm_needed": "Confirm this",
    "check.todo_answer": "{n} not answered",
    "check.todo_photo": "{n} need a photo",
    "check.todo_confirm": "{n} to confirm",
    "check.ready": "Ready to save",
    "check.draft_restored": "Unsaved check restored",
    "check.discard": "Start over",
    "check.discard_confirm": "Clear everything entered on this form, photos included?",
    "check.raise": "Report a fault",
  },
});

const RESULTS = /** @type {const} */ (["pass", "fail", "na"]);
/** Draft writes wait this long after the last change (typing a note). */
const DRAFT_DELAY_MS = 250;
/** Right after login the catalogue may still be on its way: look again this long before giving up. */
const CATALOGUE_WAIT_MS = 6000;

// ---------------------------------------------------------------------------------------------
// Small helpers

const en = () => getLang() === "en";
const itemText = (item) => (en() ? item.text_en || item.text_zh : item.text_zh);
const templateName = (tpl) => (en() ? tpl.name_en || tpl.name_zh : tpl.name_zh);
const defectText = (d) => (en() ? d.en || d.zh : d.zh);

/** "2026-11-22T14:30:00+08:00" → "2026-11-22 14:30" (the time as the checker's phone saw it). */
function shortTime(value) {
  return typeof value === "string" ? value.slice(0, 16).replace("T", " ") : "";
}

function personName(value) {
  if (!value) return "";
  if (typeof value === "string") return value;
  return value.display_name || value.username || "";
}

/**
 * The checklist for this checkpoint: its own template, except on a renovation site, where each
 * department inspects from its own angle: the renovation template of my department, else the
 * customer-service one (the 管家's daily round).
 */
function chooseTemplate(found, catalogue, me) {
  const own = found.template;
  if (found.checkpoint.kind !== "renovation" || !catalogue) return own;
  const renovation = (catalogue.templates || []).filter((tpl) => tpl.kind === "renovation");
  const department = me?.department?.code;
  return renovation.find((tpl) => department && tpl.inspecting_department === department)
    || renovation.find((tpl) => tpl.inspecting_department === "customer_service")
    || own;
}

function locationText(checkpoint, catalogue) {
  const building = catalogue?.buildings?.find((b) => b.id === checkpoint.building_id);
  const floor = catalogue?.floors?.find((f) => f.id === checkpoint.floor_id);
  const parts = [building?.name, floor?.name];
  if (typeof checkpoint.unit === "string" && checkpoint.unit) parts.push(checkpoint.unit);
  return parts.filter(Boolean).join(" · ");
}

function savedNotice(text) {
  const el = h("div", { class: "toast check-toast", role: "status", "data-testid": "check-saved" }, text);
  document.body.append(el);
  setTimeout(() => el.remove(), 4000);
}

// ---------------------------------------------------------------------------------------------
// The screen

/** The form on screen, kept while the same check is redrawn (e.g. a language switch). */
let live = null;

/** @param {import("../app.js").Ctx} ctx */
export function render(ctx) {
  let code = ctx.params.code;
  try {
    code = decodeURIComponent(code);
  } catch {
    // a malformed escape: look it up as it came (it will not be found)
  }
  const search = new URLSearchParams(location.search);
  const label = {
    manual: search.get("manual") === "1" || !search.get("s"),
    version: search.get("v"),
    signature: search.get("s"),
  };
  const root = h("section", { class: "check", "data-testid": "checkpoint-screen",
    "data-state": "loading" },
    h("div", { class: "card check-head" },
      h("p", { class: "checkpoint-code", "data-testid": "checkpoint-code" }, code),
      h("p", { class: "muted", role: "status" }, t("check.loading"))));
  load(ctx, root, code, label).catch((error) => {
    console.error("check screen failed", error);
    if (root.isConnected) root.replaceChildren(h("p", { class: "form-error", role: "alert" }, t("error.generic")));
  });
  return root;
}

async function lookUp(code, siteId) {
  const find = async () => (siteId != null ? await findCheckpoint(code, siteId) : null)
    || findCheckpoint(code);
  let found = await find();
  if (found || !navigator.onLine) return found;
  // Online but not on the phone: the catalogue may still be loading (first start after login) or
  // be older than the checkpoint. Ask for a fresh one and look again when it is in (or in time).
  let refreshed = false;
  syncNow().catch(() => {}).finally(() => { refreshed = true; });
  const deadline = Date.now() + CATALOGUE_WAIT_MS;
  while (!found && !refreshed && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    found = await find();
  }
  return found || find();
}

async function load(ctx, root, code, label) {
  const found = await lookUp(code, ctx.site?.id);
  if (!root.isConnected) return;
  const catalogue = await getCatalogue();
  if (!found) {
    root.dataset.state = "unknown";
    root.replaceChildren(...unknownScreen(ctx, code, catalogue));
    return;
  }
  const template = chooseTemplate(found, catalogue, ctx.me);
  if (!template || !(template.items || []).length) {
    root.dataset.state = "no-template";
    root.replaceChildren(
      header(found.checkpoint, catalogue, label),
      h("p", { class: "form-error", role: "alert" }, t("check.no_template")),
      backToScan(ctx));
    return;
  }
  const key = `check:${ctx.me.id}:${found.checkpoint.site_id}:${found.checkpoint.code}`;
  let form;
  if (live && live.key === key && live.template.code === template.code) {
    form = live;
  } else {
    const draft = await loadDraft(key).catch(() => undefined);
    form = newForm(key, template, draft && draft.template === template.code ? draft : null);
  }
  live = form;
  if (!root.isConnected) return;
  drawForm(ctx, root, found, catalogue, template, label, form);
}

function backToScan(ctx, { home = false } = {}) {
  return h("div", { class: "check-bottom" },
    home ? h("a", { class: "btn btn-block check-home", href: "/app/home", "data-testid": "checkpoint-home" },
      t("checkpoint.home")) : null,
    h("button", { type: "button", class: "btn btn-primary btn-block btn-check-big",
      "data-testid": "check-back-to-scan", onclick: () => ctx.navigate("/app/scan") },
      t("check.back_to_scan")));
}

function unknownScreen(ctx, code, catalogue) {
  return [
    h("h1", { class: "page-title" }, t("checkpoint.title")),
    h("div", { class: "card check-unknown", role: "alert", "data-testid": "check-unknown" },
      h("p", { class: "check-unknown-title" }, t("check.unknown")),
      h("p", { class: "checkpoint-code", "data-testid": "checkpoint-code" }, code),
      h("p", { class: "muted" }, catalogue ? t("check.unknown_hint") : t("check.no_catalogue"))),
    backToScan(ctx, { home: true }),
  ];
}

function header(checkpoint, catalogue, label) {
  const where = locationText(checkpoint, catalogue);
  return h("div", { class: "card check-head" },
    h("h1", { class: "check-name", "data-testid": "check-name" }, checkpoint.name),
    h("p", { class: "checkpoint-code", "data-testid": "checkpoint-code" }, checkpoint.code),
    h("dl", { class: "check-facts" },
      where ? [h("dt", null, t("check.location")), h("dd", { "data-testid": "check-location" }, where)] : null,
      h("dt", null, t("check.kind")),
      h("dd", { "data-testid": "check-kind" }, t(`kind.${checkpoint.kind}`))),
    label.manual ? h("p", { class: "scan-manual-note", "data-testid": "check-manual" }, t("check.manual")) : null);
}

// ---- form state ------------------------------------------------------------------------------

/**
 * @typedef {{sha256: string, blob: Blob, width: number, height: number}} Photo
 * @typedef {{result: null | "pass" | "fail" | "na", note: string, defect_type: string, photos: Photo[]}} Answer
 */

function newForm(key, template, draft) {
  /** @type {Record<string, Answer>} */
  const answers = {};
  for (const item of template.items) {
    const old = draft?.answers?.[item.code];
    answers[item.code] = {
      result: RESULTS.includes(old?.result) ? old.result : null,
      note: typeof old?.note === "string" ? old.note : "",
      defect_type: typeof old?.defect_type === "string" ? old.defect_type : "",
      photos: Array.isArray(old?.photos) ? old.photos.filter((p) => p && p.blob instanceof Blob) : [],
    };
    if (item.is_confirmation && answers[item.code].result !== "pass") answers[item.code].result = null;
  }
  return {
    key, template, answers,
    note: typeof draft?.note === "string" ? draft.note : "",
    restored: Boolean(draft),
    dirty: Boolean(draft),
    saving: false,
  };
}

function snapshot(form) {
  return { template: form.template.code, answers: form.answers, note: form.note };
}

/** What still stands between the form and Save. */
function problems(form) {
  const out = { answer: [], photo: [], confirm: [] };
  for (const item of form.template.items) {
    const answer = form.answers[item.code];
    if (item.is_confirmation) {
      if (answer.result !== "pass") out.confirm.push(item.code);
    } else if (!answer.result) {
      out.answer.push(item.code);
    } else if (answer.result === "fail" && item.photo_required_on_fail && !answer.photos.length) {
      out.photo.push(item.code);
    }
  }
  return out;
}

// ---- drawing -----------------------------------------------------------------------------------

function drawForm(ctx, root, found, catalogue, template, label, form) {
  const { checkpoint } = found;
  const items = template.items.filter((item) => !item.is_confirmation);
  const confirmations = template.items.filter((item) => item.is_confirmation);
  /** Items with an open work order already: a failure found again is added to that order. */
  let ordersByItem = new Set(found.work_orders.map((w) => w.item_code));
  /** Photos being made ready (decoded, scaled, hashed): Save waits for them. */
  let processing = 0;
  /** Object URLs of the thumbnails on screen, by sha256. */
  const urls = new Map();
  let showProblems = false;
  let draftTimer = 0;

  const unblock = blockUpdatesWhile(() => {
    if (!root.isConnected) {
      unblock();
      return false;
    }
    return form.dirty;
  });

  let draftSeq = 0;
  /** The draft write in flight: a saved check waits for it, so no stale draft outlives it. */
  let lastWrite = Promise.resolve();
  function changed({ now = false } = {}) {
    form.dirty = true;
    root.dataset.draft = "pending";
    clearTimeout(draftTimer);
    const seq = ++draftSeq;
    const write = () => (lastWrite = saveDraft(form.key, snapshot(form))
      // "saved" only once the newest change is on the phone (an older write may finish later).
      .then(() => { if (seq === draftSeq) root.dataset.draft = "saved"; })
      .catch((error) => console.warn("check: draft not kept", error)));
    if (now) write();
    else draftTimer = window.setTimeout(write, DRAFT_DELAY_MS);
    refresh();
  }

  function thumbUrl(photo) {
    if (!urls.has(photo.sha256)) urls.set(photo.sha256, URL.createObjectURL(photo.blob));
    return urls.get(photo.sha256);
  }

  // ---- history: the last check and the open work orders (offline from the catalogue) ----------

  const history = h("div", { class: "card check-history", "data-testid": "check-history" });
  function drawHistory(lastCheck, orders) {
    const last = lastCheck
      ? h("p", { "data-testid": "check-last" },
        h("span", { class: "label" }, `${t("check.last")}：`),
        `${shortTime(lastCheck.device_time)} `,
        personName(lastCheck.inspector) ? `${personName(lastCheck.inspector)} ` : "",
        h("span", { class: `check-chip check-chip-${lastCheck.result === "fail" ? "fail" : "pass"}` },
          t(lastCheck.result === "fail" ? "check.last_fail" : "check.last_pass")),
        lastCheck.local && lastCheck.status !== "synced"
          ? h("span", { class: "muted" }, ` · ${t("check.last_local")}`) : null)
      : h("p", { class: "muted", "data-testid": "check-last" }, t("check.last_none"));
    const list = orders.length
      ? h("details", { class: "check-orders", "data-testid": "check-orders" },
        h("summary", null, t("check.orders", { n: orders.length })),
        h("ul", null, orders.map((w) => h("li", null,
          h("span", null, w.title || w.item_code), " ",
          h("span", { class: "muted" }, shortTime(w.raised_at))))))
      : h("p", { class: "muted", "data-testid": "check-orders" }, t("check.orders_none"));
    // A fault that is not on the checklist: raise a work order here by hand.
    const raise = h("a", { class: "btn check-raise", href: `/app/work-orders/new?checkpoint=${checkpoint.id}`,
      "data-testid": "check-raise" }, t("check.raise"));
    history.replaceChildren(last, list, raise);
  }
  drawHistory(found.last_check, found.work_orders);
  if (!ctx.offline) {
    // Fresher news from the server when it is reachable; the catalogue's copy stays otherwise.
    api(`/api/checkpoints/${checkpoint.id}/status`).then((status) => {
      if (!root.isConnected || !status || typeof status !== "object") return;
      // {last_checks: [newest first], open_work_orders: [...]} (GET /api/checkpoints/{id}/status)
      const lastCheck = Array.isArray(status.last_checks) ? status.last_checks[0] || null : found.last_check;
      const orders = Array.isArray(status.open_work_orders) ? status.open_work_orders : found.work_orders;
      // A check made on this phone that the server has not got (or not yet) is still the latest.
      const newer = found.last_check?.local && found.last_check.id !== lastCheck?.id
        && (!lastCheck || Date.parse(found.last_check.device_time) > Date.parse(lastCheck.device_time));
      drawHistory(newer ? found.last_check : lastCheck, orders);
      ordersByItem = new Set(orders.map((w) => w.item_code));
      refresh();
    }).catch(() => {});
  }

  // ---- one checklist item ---------------------------------------------------------------------

  function itemView(item, index) {
    const answer = form.answers[item.code];
    const id = `check-item-${index}`;
    const choices = RESULTS.map((result) => h("button", {
      type: "button", class: `btn check-choice check-${result}`, "aria-pressed": "false",
      "data-testid": `item-${item.code}-${result}`,
      onclick: () => {
        answer.result = answer.result === result ? null : result;
        changed();
        if (answer.result === "fail") extra.querySelector(".check-photo-btn")?.scrollIntoView?.({ block: "nearest" });
      } }, t(`check.${result}`)));
    const message = h("p", { class: "check-item-msg", role: "alert", "data-testid": `item-${item.code}-message` });

    const defects = template.defect_types?.length
      ? h("div", { class: "check-field" },
        h("p", { class: "field-label" }, t("check.defect")),
        h("div", { class: "check-defects", role: "group", "aria-label": t("check.defect") },
          template.defect_types.map((d) => h("button", {
            type: "button", class: "btn check-defect", "aria-pressed": "false", "data-code": d.code,
            "data-testid": `item-${item.code}-defect-${d.code}`,
            onclick: () => {
              answer.defect_type = answer.defect_type === d.code ? "" : d.code;
              changed();
            } }, defectText(d)))))
      : null;

    const note = h("textarea", { class: "input check-note", id: `${id}-note`, rows: "2",
      placeholder: t("check.note_placeholder"), "data-testid": `item-${item.code}-note`,
      oninput: () => {
        answer.note = note.value;
        changed();
      } });
    note.value = answer.note;

    const thumbs = h("div", { class: "check-thumbs", "data-testid": `item-${item.code}-photos` });
    const working = h("p", { class: "muted", role: "status", hidden: true }, t("check.photo_working"));
    const photoError = h("p", { class: "form-error", role: "alert", hidden: true });

    async function addPhotos(input) {
      const files = [...(input.files || [])];
      input.value = "";
      if (!files.length) return;
      working.hidden = false;
      photoError.hidden = true;
      processing += 1;
      refresh();
      for (const file of files) {
        try {
          const photo = await preparePhoto(file);
          if (!answer.photos.some((p) => p.sha256 === photo.sha256)) answer.photos.push(photo);
        } catch (error) {
          console.warn("check: photo not usable", error);
          photoError.textContent = error instanceof PhotoError ? t("check.photo_bad") : t("error.generic");
          photoError.hidden = false;
        }
      }
      working.hidden = true;
      processing -= 1;
      changed({ now: true });
    }

    function photoPicker(capture) {
      const input = h("input", { type: "file", accept: "image/*", class: "visually-hidden",
        capture: capture ? "environment" : null, multiple: capture ? null : true,
        "data-testid": `item-${item.code}-${capture ? "camera" : "gallery"}`,
        onchange: () => addPhotos(input) });
      return h("label", { class: `btn check-photo-btn${capture ? "" : " check-photo-gallery"}` },
        input, t(capture ? "check.photo_take" : "check.photo_gallery"));
    }

    const extra = h("div", { class: "check-extra", hidden: true },
      defects,
      h("div", { class: "check-photo-row" },
        photoPicker(true), template.allow_gallery ? photoPicker(false) : null),
      working, photoError, thumbs,
      h("div", { class: "check-field" },
        h("label", { class: "field-label", for: `${id}-note` }, t("check.note")), note));

    const orderChip = h("span", { class: "check-chip check-chip-order", hidden: true,
      "data-testid": `item-${item.code}-order` }, t("check.order_open"));
    const el = h("li", { class: "check-item", id, "data-testid": `item-${item.code}` },
      h("p", { class: "check-item-text" },
        h("span", { class: "check-item-no" }, `${index + 1}.`), " ", itemText(item),
        orderChip),
      h("div", { class: "check-choices", role: "group", "aria-label": itemText(item) }, choices),
      message, extra);

    function update() {
      for (const [i, result] of RESULTS.entries()) {
        choices[i].setAttribute("aria-pressed", String(answer.result === result));
      }
      el.dataset.result = answer.result || "";
      orderChip.hidden = !ordersByItem.has(item.code);
      extra.hidden = answer.result !== "fail";
      if (defects) {
        for (const button of defects.querySelectorAll(".check-defect")) {
          button.setAttribute("aria-pressed", String(button.getAttribute("data-code") === answer.defect_type));
        }
      }
      const shown = new Set(answer.photos.map((p) => p.sha256));
      for (const [sha, url] of urls) {
        if (!shown.has(sha) && !Object.values(form.answers).some((a) => a.photos.some((p) => p.sha256 === sha))) {
          URL.revokeObjectURL(url);
          urls.delete(sha);
        }
      }
      thumbs.replaceChildren(...answer.photos.map((photo) => h("div", { class: "check-thumb" },
        h("img", { src: thumbUrl(photo), alt: "", "data-sha256": photo.sha256 }),
        h("button", { type: "button", class: "check-thumb-remove", "aria-label": t("check.photo_remove"),
          "data-testid": `item-${item.code}-photo-remove`,
          onclick: () => {
            answer.photos = answer.photos.filter((p) => p.sha256 !== photo.sha256);
            changed({ now: true });
          } }, "×"))));
      let text = "";
      if (answer.result === "fail" && item.photo_required_on_fail && !answer.photos.length) {
        text = t("check.photo_needed");
      } else if (showProblems && !answer.result) {
        text = t("check.answer_needed");
      }
      message.textContent = text;
      message.hidden = !text;
      el.classList.toggle("has-problem", Boolean(text));
    }
    return { el, update };
  }

  // ---- a closing confirmation: a big tick box -----------------------------------------------

  function confirmationView(item) {
    const answer = form.answers[item.code];
    const box = h("input", { type: "checkbox", class: "check-tick-box",
      "data-testid": `confirm-${item.code}`,
      onchange: () => {
        answer.result = box.checked ? "pass" : null;
        changed();
      } });
    const el = h("li", null, h("label", { class: "check-tick" }, box,
      h("span", { class: "check-tick-text" }, itemText(item))));
    function update() {
      box.checked = answer.result === "pass";
      el.classList.toggle("has-problem", showProblems && answer.result !== "pass");
    }
    return { el, update };
  }

  const views = items.map(itemView);
  const ticks = confirmations.map(confirmationView);

  // ---- bottom: all pass, save, what is missing --------------------------------------------------

  const todo = h("p", { class: "check-todo", role: "status", "aria-live": "polite", "data-testid": "check-todo" });
  const saveError = h("p", { class: "form-error", role: "alert", hidden: true, "data-testid": "check-save-error" });
  const allPass = h("button", { type: "button", class: "btn btn-check-big check-all-pass",
    "data-testid": "check-all-pass",
    onclick: () => {
      // Items already answered keep their answer (a failure found first is not overwritten).
      for (const item of items) form.answers[item.code].result ||= "pass";
      changed();
    } }, t("check.all_pass"));
  const save = h("button", { type: "button", class: "btn btn-primary btn-check-big check-save",
    "data-testid": "check-save", onclick: onSave }, t("check.save"));

  const generalNote = h("textarea", { class: "input check-note", id: "check-general-note", rows: "2",
    "data-testid": "check-note",
    oninput: () => {
      form.note = generalNote.value;
      changed();
    } });
  generalNote.value = form.note;

  const restored = form.restored
    ? h("div", { class: "check-restored", role: "status", "data-testid": "check-draft-restored" },
      h("span", null, t("check.draft_restored")),
      h("button", { type: "button", class: "btn check-discard", "data-testid": "check-discard",
        onclick: async () => {
          if (!window.confirm(t("check.discard_confirm"))) return;
          clearTimeout(draftTimer);
          await lastWrite;
          await clearDraft(form.key).catch(() => {});
          live = null;
          unblock();
          for (const url of urls.values()) URL.revokeObjectURL(url);
          const fresh = newForm(form.key, template, null);
          live = fresh;
          drawForm(ctx, root, found, catalogue, template, label, fresh);
        } }, t("check.discard")))
    : null;

  function refresh() {
    for (const view of views) view.update();
    for (const view of ticks) view.update();
    const p = problems(form);
    const parts = [];
    if (p.answer.length) parts.push(t("check.todo_answer", { n: p.answer.length }));
    if (p.photo.length) parts.push(t("check.todo_photo", { n: p.photo.length }));
    if (p.confirm.length) parts.push(t("check.todo_confirm", { n: p.confirm.length }));
    if (processing) parts.push(t("check.photo_working"));
    const ready = parts.length === 0;
    todo.textContent = ready ? t("check.ready") : parts.join(" · ");
    todo.classList.toggle("is-ready", ready);
    save.setAttribute("aria-disabled", String(!ready || form.saving));
    // Never hidden: the buttons keep their places, so a gloved double tap on "all pass" does not
    // land on a Save that slid under the thumb.
    allPass.setAttribute("aria-disabled", String(!items.some((item) => !form.answers[item.code].result)));
    root.dataset.ready = String(ready);
  }

  async function onSave() {
    if (form.saving) return;
    const p = problems(form);
    if (processing) return; // a photo is still being made ready: it would be left out
    if (p.answer.length || p.photo.length || p.confirm.length) {
      showProblems = true;
      refresh();
      root.querySelector(".has-problem")?.scrollIntoView({ block: "center", behavior: "smooth" });
      return;
    }
    form.saving = true;
    save.textContent = t("check.saving");
    saveError.hidden = true;
    refresh();
    const photos = new Map();
    const record = {
      id: newId(),
      checkpoint: checkpoint.code,
      site: checkpoint.site_id ?? ctx.site?.id ?? null,
      version: label.manual ? null : Number(label.version),
      signature: label.manual ? null : label.signature,
      source: label.manual ? "manual" : "scan",
      device_time: localTimestamp(),
      template: template.code,
      items: template.items.map((item) => {
        const answer = form.answers[item.code];
        const failed = answer.result === "fail";
        for (const photo of failed ? answer.photos : []) photos.set(photo.sha256, photo);
        return {
          item: item.code,
          result: answer.result,
          note: failed ? answer.note.trim() : "",
          defect_type: failed ? answer.defect_type : "",
          photos: failed ? answer.photos.map((photo) => photo.sha256) : [],
        };
      }),
      note: form.note.trim(),
      photos: [],
    };
    try {
      await saveRecord(record, [...photos.values()]);
    } catch (error) {
      console.error("check: not saved", error);
      form.saving = false;
      save.textContent = t("check.save");
      saveError.textContent = t("check.save_failed", {
        reason: error instanceof Error && error.message ? error.message : t("error.generic") });
      saveError.hidden = false;
      refresh();
      return;
    }
    clearTimeout(draftTimer);
    form.dirty = false;
    unblock();
    live = null;
    await lastWrite;
    await clearDraft(form.key).catch(() => {});
    for (const url of urls.values()) URL.revokeObjectURL(url);
    savedNotice(t("check.saved"));
    if (root.isConnected) ctx.navigate("/app/scan", { replace: true });
  }

  root.dataset.state = "form";
  root.dataset.kind = checkpoint.kind;
  root.dataset.template = template.code;
  root.replaceChildren(...[
    header(checkpoint, catalogue, label),
    checkpoint.kind === "renovation" ? glanceCard(ctx, checkpoint) : null,
    restored,
    history,
    h("div", { class: "check-section" },
      h("h2", { class: "check-section-title" }, templateName(template)),
      h("ol", { class: "check-items", "data-testid": "check-items" }, views.map((v) => v.el))),
    ticks.length
      ? h("div", { class: "check-section check-confirmations", "data-testid": "check-confirmations" },
        h("h2", { class: "check-section-title" }, t("check.confirm_title")),
        h("p", { class: "muted" }, t("check.confirm_hint")),
        h("ul", { class: "check-ticks" }, ticks.map((v) => v.el)))
      : null,
    h("div", { class: "check-field" },
      h("label", { class: "field-label", for: "check-general-note" }, t("check.general_note")), generalNote),
    ["manager", "admin"].includes(ctx.me.role) ? reissueLabel(checkpoint) : null,
    h("div", { class: "check-bottom" }, saveError, todo,
      h("div", { class: "check-buttons" }, allPass, save)),
  ].filter(Boolean));
  refresh();
}

/**
 * Managers re-issue a damaged label here: a new version, a one-label PDF to print; the old label
 * stops verifying, so the button asks first.
 */
function reissueLabel(checkpoint) {
  const status = h("p", { class: "status", role: "status", "aria-live": "polite",
    "data-testid": "reissue-status" });
  const button = h("button", { class: "btn btn-block", type: "button", "data-testid": "reissue-label",
    onclick: async () => {
      if (!window.confirm(t("checkpoint.reissue_confirm"))) return;
      await reportDownload(button, status, () => downloadFile(
        `/api/checkpoints/${checkpoint.id}/reissue-label`,
        { method: "POST", fallbackName: `label-${checkpoint.code}.pdf` }));
    } }, t("checkpoint.reissue"));
  return h("div", { class: "card check-reissue" }, h("p", { class: "muted" }, t("checkpoint.reissue_hint")), button, status);
}

