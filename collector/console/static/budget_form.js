// The console's modals: Create / Edit Budget and Override, on the one <dialog id="modal">.
import { ApiError, api, el, scopeTypes } from "./api.js";

// Open the modal with these fields; onSubmit(FormData) may throw, and its message shows in the modal.
export function openModal(title, fields, submitText, onSubmit) {
  const dialog = document.getElementById("modal");
  const form = document.getElementById("modal-form");
  const error = el("p", { class: "error", role: "alert", "data-testid": "modal-error" });
  const cancel = el("button", { type: "button", onclick: () => dialog.close() }, "Cancel");
  form.replaceChildren(el("h2", { id: "modal-title" }, title), ...fields, error,
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, submitText), cancel));
  form.onsubmit = async (event) => {
    event.preventDefault();
    try {
      await onSubmit(new FormData(form));
      dialog.close();
    } catch (exc) {
      error.textContent = exc instanceof ApiError ? exc.message : String(exc);
    }
  };
  dialog.showModal();
}

function input(label, attributes) {
  return el("label", {}, label, el("input", attributes));
}

// The ids seen for a scope type, from recent records, for the scope id's suggestions.
async function seenIds(scopeType) {
  if (scopeType === "global") return [];
  const column = scopeType === "model" ? "priced_model" : scopeType;
  const records = await api("/api/v1/costs/records", { params: { limit: 1000 } });
  return [...new Set(records.map((r) => r[column]).filter(Boolean))].sort();
}

function thresholdsOf(percentText) {
  const t = Math.round(Number(percentText));
  return t > 0 && t < 100 ? [t, 100] : [100];
}

function budgetFields(budget, types) {
  const warn = budget ? Math.min(...budget.thresholds) : 80;
  const datalist = el("datalist", { id: "scope-ids" });
  const typeSelect = el("select", { name: "scope_type", disabled: !!budget, "aria-label": "Scope type" },
    types.map((t) => el("option", { value: t, selected: t === (budget ? budget.scope_type : "project") }, t)));
  const scopeId = el("input", { name: "scope_id", list: "scope-ids", value: budget ? budget.scope_id : "",
    disabled: !!budget, autocomplete: "off" });
  const suggest = async () => {
    const ids = await seenIds(typeSelect.value);
    datalist.replaceChildren(...ids.map((id) => el("option", { value: id })));
    scopeId.disabled = !!budget || typeSelect.value === "global";
  };
  typeSelect.addEventListener("change", suggest);
  suggest();
  return [
    el("label", {}, "Scope type", typeSelect),
    el("label", {}, "Scope id (seen ids suggested)", scopeId), datalist,
    input("Name", { name: "name", value: budget ? budget.name : "", maxlength: 200 }),
    input("Limit (USD)", { name: "limit", type: "number", min: "0.000001", step: "any", required: true,
      value: budget ? budget.limit : "" }),
    el("label", {}, "Period", el("select", { name: "period" },
      ["day", "week", "month"].map((p) => el("option", { value: p, selected: p === (budget ? budget.period : "month") }, p)))),
    input("Alert threshold (% of the limit: notify when spend reaches it)", { name: "alert", type: "number", min: 1, max: 100, value: warn }),
    el("label", { class: "check" }, el("input", { type: "checkbox", name: "hard", checked: budget ? budget.hard : true }),
      "Hard limit: block agents when it is reached"),
  ];
}

// The fields the form sets; an edit keeps the budget's alert thresholds (50/80/95/100 by default)
// unless the first one was changed.
function budgetBody(data, budget = null) {
  const body = {
    name: String(data.get("name") || ""),
    limit: String(data.get("limit")),
    period: String(data.get("period")),
    hard: data.get("hard") === "on",
  };
  if (!budget || Number(data.get("alert")) !== Math.min(...budget.thresholds)) {
    body.thresholds = thresholdsOf(data.get("alert"));
  }
  return body;
}

export async function createBudget(done) {
  const types = await scopeTypes();
  openModal("Create Budget", budgetFields(null, types), "Create", async (data) => {
    const scopeType = String(data.get("scope_type"));
    const body = { scope_type: scopeType, scope_id: scopeType === "global" ? "" : String(data.get("scope_id") || ""),
      ...budgetBody(data) };
    await api("/api/v1/costs/budgets", { method: "POST", body });
    done();
  });
}

export async function editBudget(budget, done) {
  const types = await scopeTypes();
  openModal(`Edit budget ${budget.name || budget.id}`, budgetFields(budget, types), "Save", async (data) => {
    await api(`/api/v1/costs/budgets/${encodeURIComponent(budget.id)}`, { method: "PUT", body: budgetBody(data, budget) });
    done();
  });
}

export function overrideBudget(budget, done) {
  const fields = [
    el("p", {}, "Let agents through for a while, or change the limit (leave a field empty to keep it)."),
    input("Unblock for (minutes)", { name: "minutes", type: "number", min: 1, value: 60 }),
    input("New limit (USD)", { name: "limit", type: "number", min: "0.000001", step: "any" }),
  ];
  openModal(`Override ${budget.name || budget.id}`, fields, "Override", async (data) => {
    const body = {};
    if (data.get("minutes")) body.unblock_for_minutes = Number(data.get("minutes"));
    if (data.get("limit")) body.limit = String(data.get("limit"));
    await api(`/api/v1/costs/budgets/${encodeURIComponent(budget.id)}/override`, { method: "POST", body });
    done();
  });
}
