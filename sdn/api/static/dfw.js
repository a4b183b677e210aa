// The distributed firewall as NSX orders it: categories, their policies, their rules;
// narrowed to a pod's rules (those enforced at its port) or a group's (those naming it).

import { el, getJson } from "./api.js";
import { inspect } from "./inspector.js";

function short(paths) {
  return paths.length ? paths.map((p) => p.split("/").pop()).join(", ") : "ANY";
}

function ruleRow(r) {
  return el("tr", { class: "clickable", dataset: { path: r.path, ruleId: r.rule_id },
    onclick: () => inspect(r.path) },
  el("td", {}, String(r.sequence_number)), el("td", {}, r.display_name),
  el("td", {}, String(r.rule_id)),
  el("td", {}, (r.sources_excluded ? "NOT " : "") + short(r.source_groups)),
  el("td", {}, (r.destinations_excluded ? "NOT " : "") + short(r.destination_groups)),
  el("td", {}, short(r.services)), el("td", {}, short(r.scope)), el("td", {}, r.direction),
  el("td", { class: `action-${r.action}` }, r.action + (r.disabled ? " (disabled)" : "")),
  el("td", { class: "matches" }, r.matches.join(", ")));
}

function policyBlock(p) {
  return el("div", { class: "policy", dataset: { path: p.path } },
    el("h4", {}, el("span", { class: "rule-link", onclick: () => inspect(p.path) }, p.display_name),
      el("span", { class: "sub" }, `  sequence ${p.sequence_number}, applied to ${short(p.scope)}`)),
    el("table", { class: "grid" },
      el("thead", {}, el("tr", {}, ...["seq", "rule", "id", "sources", "destinations",
        "services", "applied to", "direction", "action", "search"].map((h) => el("th", {}, h)))),
      el("tbody", {}, p.rules.map(ruleRow))));
}

/** Load and draw the DFW (searched when the form says so). */
export async function loadDfw() {
  const by = document.getElementById("dfw-by").value;
  const text = document.getElementById("dfw-text").value.trim();
  const q = new URLSearchParams();
  if (text) q.set(by, text);
  const summary = document.getElementById("dfw-summary");
  let dfw;
  try {
    dfw = await getJson(`/ui/api/dfw?${q}`);
  } catch (err) {
    summary.textContent = err.message;
    document.getElementById("dfw-list").replaceChildren();
    return;
  }
  summary.textContent = `${dfw.rule_count} rule(s)` + (text ? ` for ${by} ${text}` : "")
    + `; then the default rule ${dfw.default_rule.rule_id}: ${dfw.default_rule.action}`;
  document.getElementById("dfw-list").replaceChildren(...dfw.categories
    .filter((c) => c.policies.length)
    .map((c) => el("div", { class: "category", dataset: { category: c.category } },
      el("h3", {}, c.category), ...c.policies.map(policyBlock))));
}
