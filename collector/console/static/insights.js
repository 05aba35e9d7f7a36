// Insights: the collector's optimisation suggestions; a dismissal is stored for everyone.
import { api, attempt, el, moneyEl } from "./api.js";

let showDismissed = false;

function insightCard(insight, dismissed, refresh) {
  const change = () => attempt(async () => {
    await api("/api/v1/costs/insights/dismissals", { method: "POST",
      body: { insight_id: insight.id, dismissed: !dismissed } });
    refresh();
  });
  return el("article", { class: "insight", "data-testid": "insight", "data-insight": insight.id },
    el("div", {}, el("span", { class: "pill info" }, insight.kind.replaceAll("_", " ")), " ", insight.message),
    Number(insight.estimated_monthly_saving) > 0
      ? el("div", { class: "muted" }, "Estimated saving: ",
        moneyEl(insight.estimated_monthly_saving, { class: "saving" }), " a month")
      : "",
    el("div", { class: "actions" }, el("button", { type: "button", onclick: change }, dismissed ? "Restore" : "Dismiss")));
}

export async function render(panel) {
  const refresh = () => render(panel);
  const [found, stored] = await Promise.all([
    api("/api/v1/costs/insights"), api("/api/v1/costs/insights/dismissals"),
  ]);
  const gone = new Set(stored.dismissals.map((d) => d.insight_id));
  const open = found.insights.filter((i) => !gone.has(i.id));
  const hidden = found.insights.filter((i) => gone.has(i.id));
  const toggle = el("button", { type: "button", "data-testid": "show-dismissed",
    onclick: () => { showDismissed = !showDismissed; refresh(); } },
  showDismissed ? "Hide dismissed" : `Show dismissed (${hidden.length})`);
  panel.replaceChildren(
    el("div", { class: "toolbar" }, el("h2", {}, `Insights (last ${found.days} days)`), hidden.length ? toggle : ""),
    el("div", { "data-testid": "insights" },
      open.length ? open.map((i) => insightCard(i, false, refresh))
        : el("p", { class: "empty" }, "No suggestions: nothing stands out.")),
    showDismissed && hidden.length
      ? el("div", { "data-testid": "dismissed" }, el("h2", {}, "Dismissed"), hidden.map((i) => insightCard(i, true, refresh)))
      : "",
  );
}
