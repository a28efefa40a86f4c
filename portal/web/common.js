// Shared by the pages: JSON calls to the API, the confirmation dialog, small DOM helpers.

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error : `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

// Calls the API with the session cookie; returns the parsed JSON (null for 204).
export async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = { error: text }; }
  if (!response.ok) {
    const error = new ApiError(response.status, json);
    error.retryAfter = Number(response.headers.get('Retry-After')) || 0;
    throw error;
  }
  return json;
}

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

export function show(id, visible) {
  document.getElementById(id).hidden = !visible;
}

// Resolves true when #confirm-yes is clicked, false for #confirm-no or Escape. With
// `typed`, the button works only once that text was typed into #confirm-input.
export function confirmAction(text, typed) {
  const dialog = document.getElementById('confirm');
  const yes = document.getElementById('confirm-yes');
  const no = document.getElementById('confirm-no');
  const input = document.getElementById('confirm-input');
  document.getElementById('confirm-text').textContent = text;
  if (input) {
    input.hidden = !typed;
    input.value = '';
  }
  return new Promise((resolve) => {
    const finish = (answer) => {
      yes.onclick = no.onclick = dialog.oncancel = null;
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    yes.onclick = () => {
      if (typed && input && input.value.trim() !== typed) {
        input.focus();
        return;
      }
      finish(true);
    };
    no.onclick = () => finish(false);
    dialog.oncancel = () => finish(false);
    dialog.showModal();
  });
}

export function formatTime(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : '–';
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function signOut() {
  try { await api('DELETE', '/api/session'); } catch (e) { /* signed out anyway */ }
  location.reload();
}
