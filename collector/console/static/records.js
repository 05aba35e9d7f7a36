// Records: priced calls, newest first, filtered; "Load more" follows the API's cursor.
import { ago, apiPage, count, el, moneyEl } from "./api.js";

const FILTERS = ["agent", "task", "provider", "model", "project"];
const PAGE = 20;
const state = { filters: {}, start: "", end: "" };

function params(cursor) {
  const p = { ...state.filters, limit: PAGE, cursor };
  if (state.start) p.start = state.start + "T00:00:00Z";
  if (state.end) {
    const d = new Date(state.end + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + 1);
    p.end = d.toISOString();
  }
  return p;
}

function recordCard(r) {
  return el("article", { class: "record", "data-testid": "record", "data-span": r.span_id },
    el("div", {}, el("b", {}, r.task || "(no task)"), " · ", el("span", { class: "agent" }, r.agent || "(no agent)")),
    moneyEl(r.total_cost, { class: "cost" }),
    el("div", { class: "meta" }, `${r.provider} · ${r.priced_model || r.request_model} · `,
      el("time", { datetime: r.start_time, title: r.start_time }, ago(r.start_time))),
    el("div", { class: "meta tokens" }, `${count(r.input_tokens)} in / ${count(r.output_tokens)} out`),
  );
}

function filterForm(refresh) {
  const form = el("form", { class: "filters", "aria-label": "Record filters" },
    FILTERS.map((name) => el("label", {}, name,
      el("input", { name, value: state.filters[name] || "", autocomplete: "off" }))),
    el("label", {}, "from", el("input", { type: "date", name: "start", value: state.start })),
    el("label", {}, "to", el("input", { type: "date", name: "end", value: state.end })),
    el("button", { type: "submit", class: "primary" }, "Apply"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    state.filters = Object.fromEntries(FILTERS.map((n) => [n, String(data.get(n) || "").trim()]));
    state.start = String(data.get("start") || "");
    state.end = String(data.get("end") || "");
    refresh();
  });
  return form;
}

export async function render(panel) {
  const list = el("div", { class: "records", "data-testid": "records" });
  const more = el("button", { type: "button", "data-testid": "load-more", hidden: true }, "Load more");
  let cursor = null;
  async function load() {
    const page = await apiPage("/api/v1/costs/records", { params: params(cursor) });
    list.append(...page.rows.map(recordCard));
    if (!list.children.length) list.append(el("p", { class: "empty" }, "No records match."));
    cursor = page.nextCursor;
    more.hidden = !cursor;
  }
  more.addEventListener("click", () => load());
  panel.replaceChildren(el("h2", {}, "Records"), filterForm(() => render(panel)), list, more);
  await load();
}
