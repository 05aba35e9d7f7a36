// The console's shell: tabs (mouse and keyboard), the API key prompt, and live updates by a short poll
// of the flags (a block, a pause) and of today's spend; the event stream cannot carry the key header.
import { api, attempt, el, onKeyNeeded, setKey, storedKey } from "./api.js";
import * as budgets from "./budgets.js";
import * as forecast from "./forecast.js";
import * as insights from "./insights.js";
import * as overview from "./overview.js";
import * as records from "./records.js";

const TABS = { overview, records, budgets, forecast, insights };
const LIVE_TABS = ["overview", "budgets"]; // re-drawn when flags or spend change
const POLL_MS = 2000;
let active = "overview";

function tabs() {
  return [...document.querySelectorAll("[role=tab]")];
}

export function show(name) {
  active = name;
  for (const tab of tabs()) {
    const selected = tab.getAttribute("aria-controls") === name;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    document.getElementById(tab.getAttribute("aria-controls")).hidden = !selected;
  }
  history.replaceState(null, "", "?tab=" + name); // the seeds' addresses: /costs?tab=records
  return draw(name);
}

function draw(name) {
  return attempt(() => TABS[name].render(document.getElementById(name)));
}

function wireTabs() {
  const list = tabs();
  list.forEach((tab, i) => {
    tab.addEventListener("click", () => show(tab.getAttribute("aria-controls")));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      let next = null;
      if (step) next = list[(i + step + list.length) % list.length];
      if (event.key === "Home") next = list[0];
      if (event.key === "End") next = list[list.length - 1];
      if (!next) return;
      event.preventDefault();
      next.focus();
      show(next.getAttribute("aria-controls"));
    });
  });
}

// --- the key prompt: one at a time, however many requests were refused.
let prompting = null;

function promptForKey() {
  if (prompting) return prompting;
  const dialog = document.getElementById("key-dialog");
  const form = document.getElementById("key-form");
  const input = document.getElementById("key-input");
  const error = document.getElementById("key-error");
  dialog.oncancel = (event) => event.preventDefault(); // Escape: nothing to show without a key
  prompting = new Promise((resolve) => {
    form.onsubmit = async (event) => {
      event.preventDefault();
      const key = input.value.trim();
      const answer = await fetch("/v1/flags", { headers: { Authorization: "Bearer " + key } });
      if (answer.status === 401) {
        error.textContent = "This key is not one of the collector's keys.";
        return;
      }
      setKey(key);
      error.textContent = "";
      input.value = "";
      dialog.close();
      prompting = null;
      showWho();
      resolve(true);
    };
  });
  dialog.showModal();
  return prompting;
}

function showWho() {
  document.getElementById("who").textContent = storedKey() ? "using an API key" : "";
  document.getElementById("change-key").hidden = !storedKey();
}

// --- live updates
let seen = null;

function banner(flags) {
  const blocks = flags.filter((f) => f.state === "block");
  const live = document.getElementById("live");
  live.replaceChildren(...(blocks.length
    ? [el("b", {}, "Blocked now: "), ...blocks.map((f, i) => el("span", { "data-testid": "block", "data-budget": f.budget_id },
      i ? "; " : "", `${f.scope_type}${f.scope_id ? " " + f.scope_id : ""} (${f.reason || f.budget_id})`))]
    : []));
}

async function poll() {
  try {
    const [flags, today] = await Promise.all([
      api("/v1/flags"), api("/api/v1/costs/summary", { params: { period: "day" } }),
    ]);
    banner(flags.flags);
    const now = `${flags.version}/${today.totals.calls}/${today.totals.total_cost}`;
    const changed = seen !== null && now !== seen;
    seen = now;
    if (changed && LIVE_TABS.includes(active) && !document.querySelector("dialog[open]")) await draw(active);
  } catch {
    // the next poll tries again; errors of the tabs themselves show in the notice
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

onKeyNeeded(promptForKey);
wireTabs();
document.getElementById("change-key").addEventListener("click", () => {
  setKey("");
  showWho();
  promptForKey().then(() => show(active));
});
showWho();
const start = new URLSearchParams(location.search).get("tab") || location.hash.slice(1);
fetch("/costs/static/settings.json").then((r) => r.json())
  .then((settings) => (settings.api_keys && !storedKey() ? promptForKey() : true))
  .then(() => show(TABS[start] ? start : "overview"))
  .then(poll);
