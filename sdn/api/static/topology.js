// The topology: Tier-0 boxes holding a grid of Tier-1 cards, each card its segments and
// ports when expanded (counts only when collapsed). The server decides what is collapsed
// (as `sdn topology --collapse` does); a click on a Tier-1's toggle asks again with it
// expanded. A traceflow's path is drawn over the tree on an SVG layer, hop by hop.

import { el, getJson } from "./api.js";

const state = { collapse: "auto", expanded: new Set(), tree: null, onPick: () => {} };

function plural(n, what) { return `${n} ${what}${n === 1 ? "" : "s"}`; }

function countsText(c) {
  return [plural(c.segments, "segment"), plural(c.ports, "port"), plural(c.subnets, "subnet")].join(", ");
}

function node(kind, obj, ...children) {
  return el("div", { class: `node ${kind}`, dataset: { path: obj.path, kind },
    title: obj.path, onclick: (e) => { e.stopPropagation(); state.onPick(obj.path, kind); } },
  ...children);
}

function portNode(p) {
  return node("port", p, p.display_name, el("span", { class: "sub" },
    `  ${p.ip || "no address"}${p.node ? "  @" + p.node : ""}`));
}

function segmentNodes(segments) {
  return segments.map((s) => el("div", { class: "seg-block" },
    node("segment", s, s.display_name, el("div", { class: "sub" }, s.subnets.join(", "))),
    ...s.ports.map(portNode)));
}

function toggle(gw) {
  return el("button", { type: "button", class: "toggle", dataset: { toggle: gw.path },
    "aria-expanded": String(gw.expanded), title: gw.expanded ? "collapse" : "expand",
    onclick: (e) => { e.stopPropagation(); setExpanded(gw.path, !gw.expanded); } },
  gw.expanded ? "▾" : "▸");
}

function tier1Card(t1) {
  return el("div", { class: "t1", dataset: { tier1: t1.path } },
    node("tier1", t1, toggle(t1), `Tier-1 ${t1.display_name}`,
      t1.snat_ip ? el("div", { class: "sub" }, `SNAT ${t1.snat_ip}`) : null,
      el("div", { class: "counts" }, countsText(t1.counts))),
    ...(t1.expanded ? segmentNodes(t1.segments) : []));
}

function tier0Box(t0) {
  const cards = t0.tier1s.map(tier1Card);
  if (t0.counts.segments) {
    cards.push(el("div", { class: "t1", dataset: { tier1: t0.path } },
      el("div", { class: "node sub" }, toggle(t0), `segments on the Tier-0: ${countsText(t0.counts)}`),
      ...(t0.expanded ? segmentNodes(t0.segments) : [])));
  }
  return el("div", { class: "t0" },
    node("tier0", t0, `Tier-0 ${t0.display_name}`, el("span", { class: "sub" }, `  ${t0.ha_mode || ""}`)),
    el("div", { class: "t1-grid" }, cards));
}

/** Fetch the tree (with the expanded gateways) and draw it. */
export async function loadTopology() {
  const q = new URLSearchParams({ collapse: state.collapse });
  for (const p of state.expanded) q.append("expand", p);
  state.tree = await getJson(`/ui/api/topology?${q}`);
  const box = document.getElementById("topology");
  box.replaceChildren(...state.tree.tier0s.map(tier0Box));
  const t1s = state.tree.tier0s.reduce((n, t0) => n + t0.tier1s.length, 0);
  document.getElementById("topology-note").textContent = state.tree.collapsed
    ? `${plural(t1s, "Tier-1")} collapsed, ${plural(state.tree.segment_count, "segment")}: click ▸ to expand`
    : `${plural(t1s, "Tier-1")}, ${plural(state.tree.segment_count, "segment")}`;
  clearPath();
}

export async function setExpanded(path, open) {
  if (open) state.expanded.add(path); else state.expanded.delete(path);
  await loadTopology();
}

export async function setCollapse(value) {
  state.collapse = value;
  state.expanded.clear();
  await loadTopology();
}

export function onPick(fn) { state.onPick = fn; }

/** Make sure these gateways are drawn expanded (a traceflow's path crosses them). */
export async function expandAll(paths) {
  const closed = paths.filter((p) => {
    const card = document.querySelector(`[data-toggle="${CSS.escape(p)}"]`);
    return card && card.getAttribute("aria-expanded") !== "true";
  });
  if (!closed.length) return;
  closed.forEach((p) => state.expanded.add(p));
  await loadTopology();
}

function nodeOf(path) {
  return path ? document.querySelector(`#topology .node[data-path="${CSS.escape(path)}"]`) : null;
}

export function clearPath() {
  document.querySelectorAll("#topology .node.on-path").forEach((n) =>
    n.classList.remove("on-path", "dropped", "delivered"));
  document.getElementById("path-layer").replaceChildren();
}

/** Draw the hops: `hops` is [{path, numbers: [observation numbers]}] in order; the last
 *  one is marked with how the packet ended. Returns how many hops were drawn. */
export function drawPath(hops, ending) {
  clearPath();
  const layer = document.getElementById("path-layer");
  const scroll = document.getElementById("topology-scroll");
  const origin = scroll.getBoundingClientRect();
  const ns = "http://www.w3.org/2000/svg";
  const points = [];
  hops.forEach((hop, i) => {
    const n = nodeOf(hop.path);
    if (!n) return;
    n.classList.add("on-path");
    if (i === hops.length - 1 && ending) n.classList.add(ending);
    const r = n.getBoundingClientRect();
    points.push({ x: r.left - origin.left + scroll.scrollLeft + 10,
      y: r.top - origin.top + scroll.scrollTop + r.height / 2, label: String(i + 1) });
  });
  layer.setAttribute("width", scroll.scrollWidth);
  layer.setAttribute("height", scroll.scrollHeight);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", points.map((p) => `${p.x},${p.y}`).join(" "));
  layer.append(line);
  for (const p of points) {
    const g = document.createElementNS(ns, "g");
    g.setAttribute("class", "hop");
    const c = document.createElementNS(ns, "circle");
    c.setAttribute("cx", p.x); c.setAttribute("cy", p.y); c.setAttribute("r", 8);
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", p.x); t.setAttribute("y", p.y); t.textContent = p.label;
    g.append(c, t);
    layer.append(g);
  }
  const first = nodeOf(hops[0] && hops[0].path);
  if (first) first.scrollIntoView({ block: "nearest" });
  return points.length;
}
