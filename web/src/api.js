// Every call the console makes goes through here: /console/api/* for the session, /api/v1 for
// everything else (the same admin API scripts use, authenticated by the session cookie). Writes
// carry the session's CSRF token; the cookie itself is HttpOnly and never seen by this code.

let csrfToken = '';
let onSignedOut = () => {};

export function setCsrfToken(token) {
  csrfToken = token || '';
}

// Called when any request answers 401: the session ended (logout elsewhere, timeout, removed
// user, reset password); the application returns to the sign-in page.
export function setSignedOutHandler(handler) {
  onSignedOut = handler;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function request(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = csrfToken;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data && data.error ? data.error : { code: 'error', message: response.statusText };
    if (response.status === 401 && !path.endsWith('/login')) onSignedOut();
    throw new ApiError(response.status, error.code, error.message);
  }
  return data;
}

export const api = {
  get: (path) => request('GET', '/api/v1' + path),
  post: (path, body) => request('POST', '/api/v1' + path, body),
  put: (path, body) => request('PUT', '/api/v1' + path, body),
  patch: (path, body) => request('PATCH', '/api/v1' + path, body),
  del: (path) => request('DELETE', '/api/v1' + path),
};

export const session = {
  current: () => request('GET', '/console/api/session'),
  login: (name, password) => request('POST', '/console/api/login', { name, password }),
  changePassword: (current_password, new_password) =>
    request('POST', '/console/api/password', { current_password, new_password }),
  logout: () => request('POST', '/console/api/logout'),
};

export const enc = encodeURIComponent;
