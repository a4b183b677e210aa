// The page: sign in (NSX's session form), then the topology, the inspector and the tabs
// (traceflow, DFW, IPAM). Nothing here writes: the page is read-only for every user, and
// shows who is signed in and whether that user could write through the API.

import { SignedOut, signIn, signOut, whoAmI, getJson, el } from "./api.js";
import { loadTopology, setCollapse, onPick } from "./topology.js";
import { inspect } from "./inspector.js";
import { runTraceflow } from "./traceflow.js";
import { loadDfw } from "./dfw.js";
import { loadIpam } from "./ipam.js";

const $ = (id) => document.getElementById(id);
const loaded = new Set();

function showLogin(message = "") {
  $("app").hidden = true;
  $("who").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
}

async function showApp(me) {
  $("login").hidden = true;
  $("who").hidden = false;
  $("who-name").textContent = me.user;
  $("who-role").textContent = me.writer ? "read-write" : "read-only";
  $("app").hidden = false;
  await loadTopology();
  // The first paint of the topology (what bench/bench_ui.py measures): a task queued
  // from the next animation frame runs once that frame, the tree in it, is painted.
  requestAnimationFrame(() => setTimeout(() => {
    performance.mark("sdn-topology-drawn");
    document.body.dataset.ready = "topology";
  }));
}

async function openTab(name) {
  document.querySelectorAll("nav [role=tab]").forEach((b) =>
    b.setAttribute("aria-selected", String(b.dataset.tab === name)));
  document.querySelectorAll(".tab").forEach((t) => { t.hidden = t.id !== `tab-${name}`; });
  if (loaded.has(name)) return;
  loaded.add(name);
  if (name === "dfw") await loadDfw();
  if (name === "ipam") await loadIpam();
}

async function loadPods() {
  const pods = await getJson("/ui/api/pods");
  $("pod-names").replaceChildren(...pods.map((p) => el("option", { value: p })));
}

/** Run `action`; a lost session brings the sign-in form back. */
function guarded(action) {
  return async (event) => {
    if (event && event.preventDefault) event.preventDefault();
    try { await action(event); } catch (err) {
      if (err instanceof SignedOut) showLogin("Your session ended: sign in again.");
      else throw err;
    }
  };
}

function wire() {
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await signIn($("username").value, $("password").value);
      $("password").value = "";
      await showApp(await whoAmI());
    } catch (err) {
      showLogin(err instanceof SignedOut ? "Wrong user or password." : err.message);
    }
  });
  $("sign-out").addEventListener("click", async () => { await signOut(); loaded.clear(); showLogin(); });
  $("collapse").addEventListener("change", guarded(() => setCollapse($("collapse").value)));
  $("traceflow-form").addEventListener("submit", guarded(runTraceflow));
  $("dfw-form").addEventListener("submit", guarded(loadDfw));
  $("tf-src").addEventListener("focus", guarded(async () => {
    if (!loaded.has("pods")) { loaded.add("pods"); await loadPods(); }
  }), { once: true });
  document.querySelectorAll("nav [role=tab]").forEach((b) =>
    b.addEventListener("click", guarded(() => openTab(b.dataset.tab))));
  onPick((path) => guarded(() => inspect(path))());
}

async function start() {
  wire();
  try {
    await showApp(await whoAmI());
  } catch (err) {
    if (err instanceof SignedOut) showLogin(); else showLogin(err.message);
  }
}

start();
