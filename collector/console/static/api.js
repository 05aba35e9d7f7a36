// The API seam of the console: every request goes through api(), which adds the session's key,
// asks for one on 401 and turns errors into ApiError with the server's own words.
const KEY = "spendgate.api_key";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

export function storedKey() {
  return sessionStorage.getItem(KEY) || "";
}

export function setKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

let askForKey = async () => false; // set by app.js: shows the key prompt, resolves once a key is in

export function onKeyNeeded(handler) {
  askForKey = handler;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return text ? "?" + text : "";
}

function detailOf(status, body) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
  return `HTTP ${status}`;
}

// GET by default; {method, body, params}. Resolves to the parsed JSON (null for 204).
export async function api(path, options = {}) {
  return (await request(path, options)).body;
}

// One page of a paged listing (a JSON array): its rows, and the cursor of the next page from the
// X-Next-Cursor header (null on the last page).
export async function apiPage(path, options = {}) {
  const { body, response } = await request(path, options);
  return { rows: body || [], nextCursor: response.headers.get("X-Next-Cursor") };
}

async function request(path, options) {
  const headers = { Accept: "application/json" };
  const key = storedKey();
  if (key) headers.Authorization = "Bearer " + key;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path + query(options.params), {
    method: options.method || "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  if (response.status === 204) return { body: null, response };
  const body = await response.json().catch(() => null);
  if (response.ok) return { body, response };
  if (response.status === 401 && !options.retried && (await askForKey())) {
    return request(path, { ...options, retried: true });
  }
  if (response.status === 403) {
    throw new ApiError(403, `Refused: ${detailOf(403, body)}. Changes need a key with the admin role.`);
  }
  throw new ApiError(response.status, detailOf(response.status, body));
}

// --- formatting: the API's decimal strings stay exact in data-value; the text is rounded for reading.
export function money(value) {
  const n = Number(value || 0);
  const digits = Math.abs(n) >= 1 || n === 0 ? 2 : 4;
  return "$" + n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function count(value) {
  return Number(value || 0).toLocaleString("en-US");
}

export function percent(value) {
  return Number(value || 0).toFixed(1) + "%";
}

export function ago(iso) {
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return `${Math.round(seconds)}s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86400)}d ago`;
}

// el("div", {class: "card", "data-testid": "x"}, child, "text", ...): a DOM element.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A money value: exact in data-value, rounded in the text.
export function moneyEl(value, attributes = {}) {
  return el("span", { ...attributes, "data-value": value ?? "0" }, money(value));
}

export function notify(message) {
  const notice = document.getElementById("notice");
  notice.textContent = message;
  notice.hidden = !message;
}

// Run an action, showing its error (a read key's refusal, a 422) in the notice area.
export async function attempt(action) {
  try {
    notify("");
    return await action();
  } catch (error) {
    notify(error instanceof ApiError ? error.message : String(error));
    return undefined;
  }
}

// The routes this collector serves, from its OpenAPI document (an open path): the console shows
// the usage by scope the collector offers, and takes the scope types from the API's own schema.
let openapi = null;
export async function routes() {
  if (!openapi) openapi = await fetch("/openapi.json").then((r) => r.json());
  return openapi;
}

export async function scopeTypes() {
  const doc = await routes();
  const op = doc.paths["/api/v1/costs/budgets/status"]?.get;
  const parameter = (op?.parameters || []).find((p) => p.name === "scope_type");
  const schema = parameter?.schema || {};
  const found = [schema, ...(schema.anyOf || [])].map((s) => s.enum || (s.$ref ? refEnum(doc, s.$ref) : null));
  return found.find((e) => Array.isArray(e)) || ["global", "project", "agent"];
}

function refEnum(doc, ref) {
  const name = ref.split("/").pop();
  return doc.components?.schemas?.[name]?.enum || null;
}
