// Raise a work order by hand (/app/work-orders/new, or ?checkpoint=<id> from the check screen's
// "报修" link): where (a checkpoint, optional), which department (optional; the desk dispatches),
// what is wrong (required) and photos. The desk also enters owners' reports (业主报修) with the
// owner's name, unit and phone. Saved to the outbox with a client_id and sent like everything else,
// so it works with no signal.

import { h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { photoField } from "../photo_field.js";
import { getCatalogue, localTimestamp, newId, saveRecord } from "../store.js";
import { departmentName, DEPARTMENTS, DESK_ROLES } from "./work_orders.js";

addStrings({
  "zh-CN": {
    "raise.title": "报修",
    "raise.checkpoint": "检查点（可选）",
    "raise.checkpoint_none": "不指定检查点",
    "raise.department": "处理部门（可选）",
    "raise.department_none": "由信息中心派工",
    "raise.description": "问题描述（必填）",
    "raise.description_placeholder": "哪里、什么问题",
    "raise.description_needed": "请写明问题",
    "raise.photos": "照片（可选）",
    "raise.owner": "业主报修",
    "raise.owner_name": "业主姓名（必填）",
    "raise.owner_unit": "房号（必填）",
    "raise.owner_phone": "电话",
    "raise.owner_needed": "业主报修需填写业主姓名和房号",
    "raise.submit": "提交报修",
    "raise.saving": "正在保存…",
    "raise.saved": "报修已保存，待同步",
    "raise.failed": "保存失败：{reason}",
    "raise.no_site": "您还没有分配项目，无法报修",
  },
  en: {
    "raise.title": "Report a fault",
    "raise.checkpoint": "Checkpoint (optional)",
    "raise.checkpoint_none": "No checkpoint",
    "raise.department": "Department (optional)",
    "raise.department_none": "Let the desk dispatch it",
    "raise.description": "What is wrong (required)",
    "raise.description_placeholder": "Where, and what is wrong",
    "raise.description_needed": "Describe the problem",
    "raise.photos": "Photos (optional)",
    "raise.owner": "Owner's report",
    "raise.owner_name": "Owner's name (required)",
    "raise.owner_unit": "Unit (required)",
    "raise.owner_phone": "Phone",
    "raise.owner_needed": "An owner's report needs the owner's name and unit",
    "raise.submit": "Submit",
    "raise.saving": "Saving…",
    "raise.saved": "Report saved, waiting to sync",
    "raise.failed": "Not saved: {reason}",
    "raise.no_site": "You have no site yet, so you cannot report a fault",
  },
});

/** @param {import("../app.js").Ctx} ctx */
export function render(ctx) {
  const screen = h("section", { class: "wo-raise", "data-testid": "raise-screen" },
    h("h1", { class: "page-title" }, t("raise.title")));
  if (!ctx.site) {
    screen.append(h("p", { class: "card muted" }, t("raise.no_site")));
    return screen;
  }
  const desk = DESK_ROLES.has(ctx.me.role);
  const wanted = new URLSearchParams(location.search).get("checkpoint");

  const checkpoint = h("select", { class: "input", id: "raise-checkpoint", "data-testid": "raise-checkpoint" },
    h("option", { value: "" }, t("raise.checkpoint_none")));
  getCatalogue().then((catalogue) => {
    const mine = (catalogue?.checkpoints || []).filter((c) => c.site_id === ctx.site.id)
      .sort((a, b) => String(a.code).localeCompare(String(b.code)));
    checkpoint.append(...mine.map((c) => h("option", { value: String(c.id), selected: String(c.id) === wanted },
      `${c.code} ${c.name}`)));
    if (wanted && !mine.some((c) => String(c.id) === wanted)) checkpoint.value = "";
  }).catch(() => {});

  const department = h("select", { class: "input", id: "raise-department", "data-testid": "raise-department" },
    h("option", { value: "" }, t("raise.department_none")),
    DEPARTMENTS.map((code) => h("option", { value: code }, departmentName(code))));

  const description = h("textarea", { class: "input wo-textarea", id: "raise-description", rows: "4",
    placeholder: t("raise.description_placeholder"), "data-testid": "raise-description" });

  const error = h("p", { class: "form-error", role: "alert", hidden: true, "data-testid": "raise-error" });
  const fail = (text) => {
    error.textContent = text;
    error.hidden = false;
    error.scrollIntoView?.({ block: "center" });
  };
  const photoInput = photoField({ testid: "raise", onProblem: (key) => fail(t(key)) });
  const { photos } = photoInput;

  // The desk: an owner's report
  const ownerToggle = h("input", { type: "checkbox", class: "check-tick-box", "data-testid": "raise-owner",
    onchange: () => { ownerFields.hidden = !ownerToggle.checked; } });
  const ownerName = h("input", { class: "input", id: "raise-owner-name", autocomplete: "off", "data-testid": "raise-owner-name" });
  const ownerUnit = h("input", { class: "input", id: "raise-owner-unit", autocomplete: "off", "data-testid": "raise-owner-unit" });
  const ownerPhone = h("input", { class: "input", id: "raise-owner-phone", type: "tel", autocomplete: "off",
    "data-testid": "raise-owner-phone" });
  const ownerFields = h("div", { class: "wo-owner-fields", hidden: true },
    field("raise-owner-name", "raise.owner_name", ownerName),
    field("raise-owner-unit", "raise.owner_unit", ownerUnit),
    field("raise-owner-phone", "raise.owner_phone", ownerPhone));

  const submit = h("button", { type: "button", class: "btn btn-primary btn-block", "data-testid": "raise-submit",
    onclick: async () => {
      error.hidden = true;
      if (photoInput.busy()) return;
      const text = description.value.trim();
      if (!text) return fail(t("raise.description_needed"));
      const owner = desk && ownerToggle.checked;
      if (owner && (!ownerName.value.trim() || !ownerUnit.value.trim())) return fail(t("raise.owner_needed"));
      const id = newId();
      const deviceTime = localTimestamp();
      const body = { client_id: id, site: ctx.site.id, description: text, photos: photos.map((p) => p.sha256),
        device_time: deviceTime, source: owner ? "owner" : "manual" };
      if (checkpoint.value) body.checkpoint = Number(checkpoint.value);
      if (department.value) body.department = department.value;
      if (owner) {
        body.owner_name = ownerName.value.trim();
        body.owner_unit = ownerUnit.value.trim();
        if (ownerPhone.value.trim()) body.owner_phone = ownerPhone.value.trim();
      }
      submit.disabled = true;
      submit.textContent = t("raise.saving");
      try {
        await saveRecord({ id, kind: "work_order_raise", title: text.split("\n")[0].slice(0, 200),
          device_time: deviceTime, body }, photos, { userId: ctx.me.id });
      } catch (problem) {
        submit.disabled = false;
        submit.textContent = t("raise.submit");
        return fail(t("raise.failed", { reason: problem instanceof Error ? problem.message : "" }));
      }
      photoInput.release();
      const note = h("div", { class: "toast", role: "status", "data-testid": "raise-saved" }, t("raise.saved"));
      document.body.append(note);
      setTimeout(() => note.remove(), 4000);
      ctx.navigate("/app/work-orders", { replace: true });
    } }, t("raise.submit"));

  screen.append(
    h("div", { class: "card wo-form", oninput: () => { error.hidden = true; } },
      field("raise-description", "raise.description", description),
      h("div", { class: "field" }, h("p", { class: "field-label" }, t("raise.photos")),
        photoInput.el),
      field("raise-checkpoint", "raise.checkpoint", checkpoint),
      field("raise-department", "raise.department", department),
      desk ? h("label", { class: "check-tick wo-owner-toggle" }, ownerToggle,
        h("span", { class: "check-tick-text" }, t("raise.owner"))) : null,
      desk ? ownerFields : null),
    error,
    h("div", { class: "wo-bottom" }, submit));
  return screen;
}

function field(id, key, input) {
  return h("div", { class: "field" }, h("label", { class: "field-label", for: id }, t(key)), input);
}
