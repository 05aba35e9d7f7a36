// Overview: the four cards, daily cost, and cost by provider, model, agent and scope, for a period.
import { api, count, el, moneyEl, percent, routes } from "./api.js";
import { budgetBar, dailyChart, shareList } from "./charts.js";

const state = { period: "month", start: "", end: "" };
const SHOWN = ["provider", "model", "agent"]; // always; then every other /usage/by-* the collector has
const TOP = 8; // rows of a breakdown; the rest are summed up in a "+N more" line

function nextDay(day) {
  const d = new Date(day + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

// The query parameters of the period for the summary (datetimes) and for usage (days).
function periodParams() {
  if (state.period === "30d") return rangeParams(daysAgo(29), daysAgo(0));
  if (state.period !== "custom") return { summary: { period: state.period }, usage: { period: state.period } };
  return rangeParams(state.start || "1970-01-01", state.end || daysAgo(0));
}

function daysAgo(days) {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() - days);
  return d.toISOString().slice(0, 10);
}

function rangeParams(start, end) {
  return {
    summary: { start: start + "T00:00:00Z", end: nextDay(end) + "T00:00:00Z" },
    usage: { start, end },
  };
}

// Each day of the period up to today, 0 where nothing was spent (all of a long range: only days with spend).
function everyDay(daily) {
  const spent = new Map(daily.days.map((d) => [d.day, d.total_cost]));
  const last = daily.end < daysAgo(0) ? daily.end : daysAgo(0);
  const out = [];
  for (let day = daily.start; day <= last && out.length <= 366; day = nextDay(day)) {
    out.push({ day, total_cost: spent.get(day) || "0" });
  }
  return out.length > 366 ? daily.days.map((d) => ({ day: d.day, total_cost: d.total_cost })) : out;
}

function card(label, testid, value, extra) {
  return el("div", { class: "card", "data-testid": testid }, el("div", { class: "label" }, label),
    el("div", { class: "value" }, value), extra);
}

// The budget the "budget used" card shows: the global cost budget, else the fullest cost scope.
function headlineBudget(scopes) {
  const cost = scopes.filter((s) => s.metric === "cost");
  return cost.find((s) => s.scope_type === "global") || cost.sort((a, b) => b.utilization - a.utilization)[0];
}

// A /usage/by-<route> answer's items, with their name (the route agent-type names the field agent_type).
function usageItems(body, route) {
  const field = route.replaceAll("-", "_");
  const list = body[field + "s"] || Object.values(body).find(Array.isArray) || [];
  return list.map((item) => ({ ...item, name: item[field] }));
}

function toolbar(refresh) {
  const select = el("select", { id: "period", "aria-label": "Period" },
    [["day", "Today"], ["week", "This week"], ["month", "This month"], ["30d", "Last 30 days"],
      ["custom", "Custom range"]].map(
      ([value, text]) => el("option", { value, selected: value === state.period }, text)));
  const start = el("input", { type: "date", id: "period-start", "aria-label": "From", value: state.start,
    hidden: state.period !== "custom" });
  const end = el("input", { type: "date", id: "period-end", "aria-label": "To", value: state.end,
    hidden: state.period !== "custom" });
  select.addEventListener("change", () => { state.period = select.value; refresh(); });
  start.addEventListener("change", () => { state.start = start.value; refresh(); });
  end.addEventListener("change", () => { state.end = end.value; refresh(); });
  return el("div", { class: "toolbar" }, el("label", {}, "Period", select), start, end);
}

export async function render(panel) {
  const refresh = () => render(panel);
  const params = periodParams();
  const doc = await routes();
  const scopes = Object.keys(doc.paths).map((path) => path.match(/^\/api\/v1\/usage\/by-([\w-]+)$/)?.[1])
    .filter((d) => d && !SHOWN.includes(d));
  const usage = (d) => api(`/api/v1/usage/by-${d}`, { params: params.usage });
  const [summary, today, status, daily, providers, models, agents, ...byScope] = await Promise.all([
    api("/api/v1/costs/summary", { params: params.summary }),
    api("/api/v1/costs/summary", { params: { period: "day" } }),
    api("/api/v1/costs/budgets/status").catch(() => ({ scopes: [] })),
    api("/api/v1/usage/daily", { params: params.usage }),
    usage("provider"), usage("model"), usage("agent"),
    ...scopes.map(usage),
  ]);
  const t = summary.totals;
  const budget = headlineBudget(status.scopes || []);
  const cards = el("div", { class: "cards" },
    card("Total spend", "card-total", moneyEl(t.total_cost), el("div", { class: "muted" }, `${count(t.calls)} calls`)),
    card("Tokens", "card-tokens",
      el("span", { "data-value": t.input_tokens + t.output_tokens }, count(t.input_tokens + t.output_tokens)),
      el("div", { class: "muted" }, `${count(t.input_tokens)} in · ${count(t.output_tokens)} out`)),
    card("Today", "card-today", moneyEl(today.totals.total_cost)),
    budget
      ? card("Budget used", "card-budget",
        el("span", { "data-value": budget.utilization }, percent(budget.utilization)),
        el("div", {}, budgetBar(budget.utilization, budget.state),
          el("div", { class: "muted" }, `${budget.scope_type} ${budget.scope_id} · `, moneyEl(budget.spend), " of ",
            moneyEl(budget.limit_amount ?? budget.limit))))
      : card("Budget used", "card-budget", el("span", { class: "muted" }, "no budget")),
  );
  const days = everyDay(daily);
  const section = (title, body) => el("div", {}, el("h2", {}, title), body);
  panel.replaceChildren(
    toolbar(refresh), cards,
    section("Daily cost", days.length ? dailyChart(days) : el("p", { class: "empty" }, "No spend in this period.")),
    el("div", { class: "grid2" },
      section("Cost by provider", shareList(usageItems(providers, "provider"), "by-provider", TOP)),
      section("Cost by model", shareList(usageItems(models, "model"), "by-model", TOP)),
      section("Cost by agent", shareList(usageItems(agents, "agent"), "by-agent", TOP)),
      // Other scopes only where some spend names them (a team nobody sets is one "(none)" row).
      ...scopes.map((d, i) => [d, usageItems(byScope[i], d)]).filter(([, items]) => items.some((x) => x.name))
        .map(([d, items]) => section(`Cost by ${d.replaceAll("-", " ")}`, shareList(items, `by-${d}`, TOP))),
    ),
  );
}
