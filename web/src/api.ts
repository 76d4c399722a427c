/** The browser side of /api: JSON in and out, the session's CSRF token on every state change. */
let csrfToken = '';
export function setCsrf(token: string): void { csrfToken = token; }

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly body: Record<string, unknown> = {}) {
    super(message);
  }
}

/** Throws ApiError for an HTTP error, TypeError (from fetch) when the network fails. */
export async function api<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const text = await res.text();
  const json = text ? JSON.parse(text) as Record<string, unknown> : {};
  if (!res.ok) {
    const error = (json.error ?? {}) as { code?: string; message?: string };
    throw new ApiError(res.status, error.code ?? 'HTTP', error.message ?? res.statusText, error as Record<string, unknown>);
  }
  return json as T;
}

/** A version-4 UUID from getRandomValues (randomUUID needs a secure context; a LAN server over HTTP is not one). */
export function uuid4(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
