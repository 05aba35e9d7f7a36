// Charts drawn as inline SVG: the daily cost bars and the share bars of a breakdown.
import { el, money, moneyEl, percent } from "./api.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(child));
  return node;
}

// days: [{day, total_cost}], oldest first.
export function dailyChart(days) {
  const width = 1000, height = 220, bottom = 20, top = 18;
  const costs = days.map((d) => Number(d.total_cost));
  const highest = Math.max(...costs, 0) || 1;
  const step = width / Math.max(days.length, 1);
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "data-testid": "daily-chart",
    "aria-label": `Daily cost, ${days.length} days`,
  });
  days.forEach((d, i) => {
    const h = (costs[i] / highest) * (height - bottom - top);
    const w = Math.min(step * 0.7, 60);
    const bar = svg("rect", {
      class: "day", x: i * step + (step - w) / 2, y: height - bottom - h, width: w, height: h,
      "data-day": d.day, "data-value": d.total_cost,
    });
    bar.append(svg("title", {}, `${d.day}: ${money(d.total_cost)}`));
    chart.append(bar);
  });
  const every = Math.ceil(days.length / 8);
  days.forEach((d, i) => {
    if (i % every === 0) chart.append(svg("text", { x: i * step + 2, y: height - 6 }, d.day.slice(5)));
  });
  chart.append(svg("text", { x: width - 4, y: 12, "text-anchor": "end" }, `max ${money(highest)}`));
  return chart;
}

// items: [{name, total_cost, share_percent}], largest first; the first ``top`` of them, then "+N more".
export function shareList(items, testid, top = Infinity) {
  if (!items.length) return el("p", { class: "empty", "data-testid": testid }, "No spend in this period.");
  const rest = items.slice(top);
  const more = rest.length
    ? el("li", { class: "muted", "data-testid": "more" }, `+${rest.length} more: `,
      moneyEl(String(rest.reduce((sum, item) => sum + Number(item.total_cost), 0))))
    : "";
  return el(
    "ul",
    { class: "shares", "data-testid": testid },
    items.slice(0, top).map((item) => {
      const share = Math.max(0, Math.min(100, Number(item.share_percent || 0)));
      return el(
        "li",
        { "data-name": item.name },
        el("span", {}, item.name || "(none)"),
        el("span", {}, moneyEl(item.total_cost, { class: "cost" }), " · ",
          el("span", { class: "share", "data-value": item.share_percent }, percent(item.share_percent))),
        svg("svg", { viewBox: "0 0 100 8", preserveAspectRatio: "none", "aria-hidden": "true" },
          svg("rect", { class: "track", x: 0, y: 0, width: 100, height: 8, rx: 3 }),
          svg("rect", { class: "share", x: 0, y: 0, width: share, height: 8, rx: 3 })),
      );
    }),
    more,
  );
}

// A budget bar: the fill at the utilisation, marks at the warning threshold and at the hard limit.
export function budgetBar(utilization, state, marks = []) {
  const fill = Math.max(0, Math.min(100, Number(utilization || 0)));
  return el(
    "div",
    { class: `bar state-${state || "ok"}`, role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100,
      "aria-valuenow": fill.toFixed(1) },
    el("div", { class: "fill", style: `width:${fill}%` }),
    marks.filter((m) => m.at > 0 && m.at <= 100).map((m) =>
      el("div", { class: "mark", style: `left:calc(${m.at}% - 1px)`, title: m.title, "data-mark": m.kind })),
  );
}
