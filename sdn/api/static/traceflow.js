// The traceflow form: the same simulator `sdn traceflow -o json` runs (served at
// /ui/api/traceflow), its observations listed, its path drawn on the topology hop by hop,
// and the verdict naming the deciding rule.

import { el, getJson } from "./api.js";
import { drawPath, expandAll } from "./topology.js";
import { inspect } from "./inspector.js";

const SHORT = { ForwardedLogical: "forwarded", ReceivedLogical: "received",
  DroppedLogical: "DROPPED", Delivered: "DELIVERED", Forwarded: "tunnel out", Received: "tunnel in" };

function shortType(t) { return SHORT[t.replace("TraceflowObservation", "")] || t; }

/** Consecutive observations at one node make one hop: [{path, numbers}]. */
export function hopsOf(nodes) {
  const hops = [];
  nodes.forEach((path, i) => {
    if (!path) return;
    const last = hops[hops.length - 1];
    if (last && last.path === path) last.numbers.push(i + 1);
    else hops.push({ path, numbers: [i + 1] });
  });
  return hops;
}

function ruleLink(o) {
  if (o.acl_rule_id === undefined) return null;
  return el("span", { class: "rule-link", dataset: { rulePath: o.acl_rule_path || "" },
    onclick: () => o.acl_rule_path && inspect(o.acl_rule_path) }, `rule ${o.acl_rule_id}`);
}

function detail(o) {
  const parts = [];
  if (o.route_prefix) parts.push(`route ${o.route_prefix} → ${o.next_hop || ""}`);
  if (o.translated_src_ip) parts.push(`SNAT to ${o.translated_src_ip}`);
  if (o.translated_dst_ip) parts.push(`DNAT to ${o.translated_dst_ip}`);
  if (o.dst_transport_node_name) parts.push(`to ${o.dst_transport_node_name} (${o.remote_ip_address || ""})`);
  if (o.vni !== undefined) parts.push(`vni ${o.vni}`);
  if (o.reason) parts.push(`reason ${o.reason}`);
  if (o.message) parts.push(o.message);
  return parts.join("; ");
}

function verdict(trace) {
  const box = document.getElementById("tf-verdict");
  box.className = trace.disposition;
  const decider = [...trace.observations].reverse().find((o) => o.acl_rule_id !== undefined
    && (o.resource_type.endsWith("DroppedLogical") || trace.disposition === "DELIVERED"));
  box.replaceChildren(el("span", { class: "disposition" }, trace.disposition), ": ",
    el("span", { class: "summary" }, trace.summary),
    decider ? el("div", { class: "rule" }, "deciding rule: ", ruleLink(decider),
      decider.acl_rule_path ? ` (${decider.acl_rule_path})` : "") : null);
}

function table(trace, nodes, hops) {
  const hopOf = new Map();
  hops.forEach((h, i) => h.numbers.forEach((n) => hopOf.set(n, i + 1)));
  const rows = trace.observations.map((o, i) => el("tr", { dataset: { seq: o.sequence_no } },
    el("td", {}, String(i + 1)), el("td", { class: "hop" }, String(hopOf.get(i + 1) || "")),
    el("td", {}, o.transport_node_name || ""), el("td", {}, shortType(o.resource_type)),
    el("td", {}, [o.component_type, o.component_sub_type].filter(Boolean).join("/")),
    el("td", {}, o.component_name || o.lport_name || ""),
    el("td", {}, ruleLink(o), ruleLink(o) && detail(o) ? "; " : "", detail(o))));
  const t = document.getElementById("tf-observations");
  t.querySelector("tbody").replaceChildren(...rows);
  t.hidden = false;
}

const ENDING = { DELIVERED: "delivered", DROPPED: "dropped", REJECTED: "dropped" };

/** Run the form's traceflow and show it. */
export async function runTraceflow() {
  const q = new URLSearchParams({ src: document.getElementById("tf-src").value.trim(),
    dst: document.getElementById("tf-dst").value.trim(),
    protocol: document.getElementById("tf-protocol").value });
  const port = document.getElementById("tf-port").value.trim();
  if (port) q.set("port", port);
  const box = document.getElementById("tf-verdict");
  box.className = "";
  box.textContent = "tracing…";
  let answer;
  try {
    answer = await getJson(`/ui/api/traceflow?${q}`);
  } catch (err) {
    box.className = "error";
    box.textContent = err.message;
    return;
  }
  await expandAll(answer.gateways);
  const hops = hopsOf(answer.nodes);
  drawPath(hops, ENDING[answer.trace.disposition]);
  table(answer.trace, answer.nodes, hops);
  verdict(answer.trace);
}
