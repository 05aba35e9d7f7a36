// Forecast: low / mid / high cost of pending tasks, with the buffer and the assumptions; recalculate.
import { api, attempt, el, moneyEl } from "./api.js";

const state = { pending_task_count: "10", avg_tokens_per_task: "", provider: "openai", model: "gpt-4o",
  expected_retry_rate: "", safety_buffer_multiplier: "1.2" };
const NUMBERS = ["pending_task_count", "avg_tokens_per_task"];

function body() {
  const out = {};
  for (const [name, value] of Object.entries(state)) {
    if (value === "") continue; // not given: the collector takes it from history or its default
    out[name] = NUMBERS.includes(name) ? Number(value) : value;
  }
  return out;
}

function results(f) {
  const a = f.assumptions;
  const card = (label, testid, value) => el("div", { class: "card", "data-testid": testid },
    el("div", { class: "label" }, label), el("div", { class: "value" }, moneyEl(value)));
  const rows = [
    ["Pending tasks", f.pending_task_count], ["Cost per task", moneyEl(f.cost_per_task)],
    ["Tokens per task", `${a.avg_tokens_per_task} (${a.source.avg_tokens_per_task})`],
    ["Input share", a.input_share], ["Model", `${a.provider} / ${a.model} (${a.pricing_status})`],
    ["Retry rate", `${a.expected_retry_rate} (${a.source.expected_retry_rate})`],
    ["Safety buffer", `× ${a.safety_buffer}`],
    ["History", `${a.source.history_tasks} tasks in ${a.source.history_days} days`],
  ];
  return el("div", {},
    el("div", { class: "cards" }, card("Low (no retries)", "forecast-low", f.estimated_cost_low),
      card("Mid (with retries)", "forecast-mid", f.estimated_cost_mid),
      card("High (with the buffer)", "forecast-high", f.estimated_cost_high)),
    el("h2", {}, "Assumptions"),
    el("div", { class: "table-wrap" }, el("table", { "data-testid": "assumptions" },
      el("tbody", {}, rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)))))));
}

export async function render(panel) {
  const out = el("div", { "data-testid": "forecast" });
  const field = (label, name, attributes = {}) => el("label", {}, label,
    el("input", { name, value: state[name], ...attributes }));
  const form = el("form", { class: "filters", "aria-label": "Forecast parameters" },
    field("Pending tasks", "pending_task_count", { type: "number", min: 0, required: true }),
    field("Tokens per task (empty: history)", "avg_tokens_per_task", { type: "number", min: 1 }),
    field("Provider", "provider"), field("Model", "model"),
    field("Retry rate (empty: history)", "expected_retry_rate", { type: "number", min: 0, step: "any" }),
    field("Safety buffer", "safety_buffer_multiplier", { type: "number", min: 1, step: "any" }),
    el("button", { type: "submit", class: "primary", "data-testid": "recalculate" }, "Recalculate"));
  const calculate = async () => {
    const f = await attempt(() => api("/api/v1/costs/forecast", { method: "POST", body: body() }));
    if (f) out.replaceChildren(results(f));
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    for (const [name, value] of new FormData(form)) state[name] = String(value).trim();
    calculate();
  });
  panel.replaceChildren(el("h2", {}, "Forecast"), form, out);
  await calculate();
}
