// Budgets: every budget with its bar and actions, the per-agent status table, and the alerts.
import { ago, api, attempt, el, moneyEl, percent } from "./api.js";
import { createBudget, editBudget, overrideBudget } from "./budget_form.js";
import { budgetBar } from "./charts.js";

const budgetPath = (b, action = "") => `/api/v1/costs/budgets/${encodeURIComponent(b.id)}${action}`;

function stateOf(budget, scopes) {
  if (!budget.active) return "inactive";
  const flag = budget.flags.find((f) => f.state === "block") || budget.flags[0];
  return flag ? flag.state : scopes[0] ? scopes[0].state : "ok";
}

function amount(budget, value) {
  return budget.metric === "cost" ? moneyEl(value) : el("span", { "data-value": value }, value);
}

function budgetCard(b, scopes, refresh) {
  const fullest = scopes[0];
  const state = stateOf(b, scopes);
  const marks = [{ at: Math.min(...b.thresholds), kind: "alert", title: "first alert" }];
  if (b.hard) marks.push({ at: 100, kind: "hard", title: "hard limit" });
  const act = (label, action, className) => el("button", { type: "button", class: className,
    onclick: () => attempt(async () => { await action(); refresh(); }) }, label);
  const confirmDelete = el("button", { type: "button", class: "danger", "data-testid": "delete" }, "Delete");
  confirmDelete.addEventListener("click", () => {
    if (confirmDelete.dataset.armed) {
      attempt(async () => { await api(budgetPath(b), { method: "DELETE" }); refresh(); });
    } else {
      confirmDelete.dataset.armed = "1";
      confirmDelete.textContent = "Confirm delete";
    }
  });
  return el("article", { class: "budget", "data-testid": "budget", "data-budget": b.id, "data-state": state },
    el("div", { class: "head" },
      el("b", {}, b.name || b.id),
      el("span", { class: "muted" }, `${b.scope_type}${b.scope_id ? " " + b.scope_id : ""} · ${b.metric} per ${b.period}`),
      el("span", { class: `pill ${state}`, "data-testid": "state" }, b.active ? state : "paused")),
    budgetBar(fullest ? fullest.utilization : 0, state, marks),
    el("div", {}, fullest ? amount(b, fullest.spend) : el("span", { class: "muted" }, "not evaluated yet"),
      " of ", amount(b, b.limit), fullest ? ` (${percent(fullest.utilization)})` : "",
      el("span", { class: "muted" }, ` · first alert at ${Math.min(...b.thresholds)}% (`,
        amount(b, String(Number(b.limit) * Math.min(...b.thresholds) / 100)), ")",
        b.hard ? ` · hard limit at 100%${Number(b.grace_percent) ? ` + ${b.grace_percent}% grace` : ""}` : " · soft limit"),
      scopes.length > 1 ? el("span", { class: "muted" }, ` · ${scopes.length} scopes`) : ""),
    el("div", { class: "actions" },
      el("button", { type: "button", onclick: () => editBudget(b, refresh) }, "Edit"),
      b.active ? act("Pause", () => api(budgetPath(b, "/disable"), { method: "POST" }))
        : act("Resume", () => api(budgetPath(b, "/enable"), { method: "POST" })),
      el("button", { type: "button", onclick: () => overrideBudget(b, refresh) }, "Override"),
      confirmDelete),
  );
}

function agentTable(agents, status, refresh) {
  const byAgent = new Map();
  for (const a of agents) byAgent.set(a.agent, { agent: a.agent, spend: a.total_cost });
  for (const s of status.scopes.filter((s) => s.scope_type === "agent" && s.scope_id !== "*")) {
    byAgent.set(s.scope_id, { spend: "0", ...byAgent.get(s.scope_id), agent: s.scope_id, scope: s });
  }
  const paused = new Set(status.paused.filter((p) => p.scope_type === "agent").map((p) => p.scope_id));
  paused.forEach((id) => byAgent.set(id, { spend: "0", agent: id, ...byAgent.get(id) }));
  const rows = [...byAgent.values()].sort((a, b) => a.agent.localeCompare(b.agent)).map((row) => {
    const isPaused = paused.has(row.agent);
    const state = isPaused ? "paused" : row.scope ? row.scope.state : "ok";
    const path = `/api/v1/scopes/agent/${encodeURIComponent(row.agent)}/${isPaused ? "unpause" : "pause"}`;
    const body = isPaused ? undefined : { reason: "paused from the console" };
    return el("tr", { "data-agent": row.agent },
      el("td", {}, row.agent), el("td", { class: "num" }, moneyEl(row.spend)),
      el("td", { class: "num" }, row.scope ? moneyEl(row.scope.limit_amount ?? row.scope.limit) : "—"),
      el("td", { class: "num" }, row.scope ? percent(row.scope.utilization) : "—"),
      el("td", {}, el("span", { class: `pill ${state}`, "data-testid": "agent-state" }, state)),
      el("td", {}, el("button", { type: "button",
        onclick: () => attempt(async () => { await api(path, { method: "POST", body }); refresh(); }) },
      isPaused ? "Unpause" : "Pause")));
  });
  return el("div", { class: "table-wrap" }, el("table", { "data-testid": "agents" },
    el("thead", {}, el("tr", {}, ["Agent", "Spend (month)", "Budget", "Used", "State", ""].map((h, i) =>
      el("th", { class: i && i < 4 ? "num" : "" }, h)))),
    el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: 6, class: "empty" }, "No agents yet.")))));
}

function alertList(alerts) {
  if (!alerts.length) return el("p", { class: "empty", "data-testid": "alerts" }, "No alerts in the last week.");
  return el("ul", { "data-testid": "alerts" }, alerts.map((a) => el("li", { "data-level": a.level },
    el("span", { class: `pill ${a.level}` }, a.level), " ", a.message || `${a.scope_type} ${a.scope_id}`, " ",
    el("time", { class: "muted", datetime: a.at }, a.at ? ago(a.at) : ""))));
}

export async function render(panel) {
  const refresh = () => render(panel);
  const [list, status, agents, alerts] = await Promise.all([
    api("/api/v1/costs/budgets"),
    api("/api/v1/costs/budgets/status"),
    api("/api/v1/usage/by-agent", { params: { period: "month" } }),
    api("/api/v1/alerts", { params: { limit: 20 } }),
  ]);
  const scopesOf = (b) => status.scopes.filter((s) => s.budget_id === b.id)
    .sort((x, y) => Number(y.utilization) - Number(x.utilization));
  panel.replaceChildren(
    el("div", { class: "toolbar" }, el("h2", {}, "Budgets"),
      el("button", { type: "button", class: "primary", "data-testid": "create-budget",
        onclick: () => createBudget(refresh) }, "Create Budget")),
    el("div", { "data-testid": "budgets" },
      list.length ? list.map((b) => budgetCard(b, scopesOf(b), refresh))
        : el("p", { class: "empty" }, "No budgets yet.")),
    el("h2", {}, "Agents"), agentTable(agents.agents || [], status, refresh),
    el("h2", {}, "Alerts"), alertList(alerts.alerts || []),
  );
}
