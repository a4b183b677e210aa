// Talking to the server: the session (NSX's /api/session/create with the form), and
// reads that carry its cookie. A 403 from any read means the session is gone: sign in.

export class SignedOut extends Error {}

/** GET `url` as JSON; throws SignedOut on 403, Error with NSX's message otherwise. */
export async function getJson(url) {
  const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  return answer(res);
}

async function answer(res) {
  const body = await res.json().catch(() => null);
  if (res.status === 403 && body && body.error_code === 403) throw new SignedOut();
  if (!res.ok) {
    const msg = body && body.error_message ? body.error_message : `HTTP ${res.status}`;
    const err = new Error(msg);
    err.status = res.status;
    throw err;
  }
  return body;
}

/** Sign in as NSX's UI does: a form POST; the server sets the JSESSIONID cookie. */
export async function signIn(user, password) {
  const form = new URLSearchParams({ j_username: user, j_password: password });
  const res = await fetch("/api/session/create", { method: "POST", body: form,
    credentials: "same-origin" });
  if (!res.ok) throw new Error(res.status === 403 ? "Wrong user or password." : `HTTP ${res.status}`);
}

export async function signOut() {
  await fetch("/api/session/destroy", { method: "POST", credentials: "same-origin" });
}

/** Who is signed in: {user, writer}; throws SignedOut when nobody is. */
export function whoAmI() {
  return getJson("/ui/api/session");
}

/** An element with attributes and children (strings become text: nothing is parsed as HTML). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c !== undefined && c !== null && c !== false) node.append(c);
  }
  return node;
}
