// The object inspector: an object's NSX JSON as the Policy API returns it, its tags and
// its realized state (the API's realized-state status), read through the NSX API itself.

import { el, getJson } from "./api.js";

function realizedText(status) {
  if (!status) return "unknown";
  const state = status.publish_status || status.state
    || (status.consolidated_status && status.consolidated_status.consolidated_status)
    || JSON.stringify(status);
  return status.publish_status_error_message ? `${state}: ${status.publish_status_error_message}`
    : state;
}

/** Show the object at Policy path `path`. */
export async function inspect(path) {
  document.getElementById("inspector-hint").hidden = true;
  const body = document.getElementById("inspector-body");
  body.hidden = false;
  document.getElementById("inspector-path").textContent = path;
  document.getElementById("inspector-title").textContent = path.split("/").pop();
  const pre = document.getElementById("inspector-json");
  const tags = document.querySelector("#inspector-tags tbody");
  const realized = document.getElementById("inspector-realized");
  pre.textContent = "loading…";
  tags.replaceChildren();
  realized.textContent = "…";
  body.dataset.path = path;
  let obj;
  try {
    obj = await getJson(`/policy/api/v1${path}`);
  } catch (err) {
    pre.textContent = `not readable through the Policy API: ${err.message}`;
    realized.textContent = "unknown";
    return;
  }
  if (body.dataset.path !== path) return; // another object was picked meanwhile
  document.getElementById("inspector-title").textContent =
    `${obj.resource_type || ""} ${obj.display_name || obj.id || ""}`;
  pre.textContent = JSON.stringify(obj, null, 2);
  tags.replaceChildren(...(obj.tags || []).map((t) => el("tr", {}, el("td", {}, t.scope || ""),
    el("td", {}, t.tag || ""))));
  try {
    const status = await getJson(
      `/policy/api/v1/infra/realized-state/status?intent_path=${encodeURIComponent(path)}`);
    realized.textContent = realizedText(status);
  } catch (err) {
    realized.textContent = `unavailable (${err.message})`;
  }
}
