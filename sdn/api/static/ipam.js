// IPAM usage per block (and the subnets carved from it) and per pool: `sdn ipam -o json`.

import { el, getJson } from "./api.js";
import { inspect } from "./inspector.js";

function used(part, whole) {
  const pct = whole ? Math.round((100 * part) / whole) : 0;
  return el("span", {}, el("span", { class: "bar" }, el("i", { style: `width:${pct}%` })),
    `${part} (${pct}%)`);
}

function row(path, ...cells) {
  return el("tr", { class: "clickable", dataset: { path }, onclick: () => inspect(path) },
    el("td", {}, path.split("/").pop()), ...cells.map((c) => el("td", {}, c)));
}

export async function loadIpam() {
  const u = await getJson("/ui/api/ipam");
  document.querySelector("#ipam-blocks tbody").replaceChildren(...u.blocks.map((b) =>
    row(b.path, b.cidr, used(b.carved, b.total), String(b.held), String(b.free),
      String(b.subnets))));
  document.querySelector("#ipam-pools tbody").replaceChildren(...u.pools.map((p) =>
    row(p.path, p.kind, p.owner, p.cidrs.join(" "), used(p.allocated, p.capacity),
      String(p.held), String(p.free))));
}
