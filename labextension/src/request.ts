/**
 * The only module that talks HTTP: every call goes through ServerConnection (base URL, token,
 * XSRF cookie), and every error becomes an EnvMgrError whose message is in words.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { trans } from './i18n';
import { ITaskEvent } from './types';

/** Where the REST API lives, below the server's base URL. */
export const API_PATH = 'envmgr/api';

export type Query = { [key: string]: string | string[] | undefined };

export interface IRequestOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  query?: Query;
  /** Sent as JSON. */
  body?: unknown;
  signal?: AbortSignal;
}

/**
 * A failed request: `message` is the server's own words (`{"message", "reason"}`) or says what
 * went wrong on the way; `status` is 0 when the server could not be reached.
 */
export class EnvMgrError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly reason: string | null = null
  ) {
    super(message);
    this.name = 'EnvMgrError';
  }
}

/** The words for an error of any kind (an EnvMgrError, an Error, anything thrown). */
export function errorMessage(error: unknown): string {
  if (error instanceof EnvMgrError) {
    return error.message;
  }
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}

function makeUrl(
  settings: ServerConnection.ISettings,
  path: string,
  query?: Query
): string {
  const url = URLExt.join(settings.baseUrl, API_PATH, path);
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined) {
      continue;
    }
    for (const item of Array.isArray(value) ? value : [value]) {
      params.append(key, item);
    }
  }
  const text = params.toString();
  return text ? `${url}?${text}` : url;
}

function statusWords(status: number): string | undefined {
  switch (status) {
    case 401:
      return trans.__(
        'You are not logged in to the Jupyter server (401): reload the page or log in again.'
      );
    case 403:
      return trans.__(
        'The Jupyter server refused this (403): you lack the permission for it.'
      );
    case 404:
      return trans.__('Not found (404).');
    case 413:
      return trans.__('The request is too large (413).');
    case 500:
      return trans.__('The server failed (500); its log says more.');
    default:
      return undefined;
  }
}

async function send(
  path: string,
  options: IRequestOptions,
  settings: ServerConnection.ISettings
): Promise<Response> {
  const init: RequestInit = {
    method: options.method ?? 'GET',
    signal: options.signal
  };
  if (options.body !== undefined) {
    init.body = JSON.stringify(options.body);
    init.headers = { 'Content-Type': 'application/json' };
  }
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(
      makeUrl(settings, path, options.query),
      init,
      settings
    );
  } catch (error) {
    if ((error as Error)?.name === 'AbortError') {
      throw error;
    }
    throw new EnvMgrError(
      trans.__('Cannot reach the Jupyter server: %1', errorMessage(error)),
      0,
      'network'
    );
  }
  if (!response.ok) {
    throw await responseError(response);
  }
  return response;
}

async function responseError(response: Response): Promise<EnvMgrError> {
  let message = '';
  let reason: string | null = null;
  try {
    const data = await response.json();
    message = typeof data?.message === 'string' ? data.message : '';
    reason = typeof data?.reason === 'string' ? data.reason : null;
  } catch {
    // not JSON (a proxy's page): the status says it
  }
  // Tornado's own errors may carry only the status phrase ("Forbidden"): say what it means.
  if (!message || message === response.statusText) {
    message =
      statusWords(response.status) ??
      trans.__(
        'The server answered %1 %2.',
        response.status,
        response.statusText
      );
  }
  return new EnvMgrError(message, response.status, reason);
}

/** A JSON request to `envmgr/api/<path>`; the parsed answer. */
export async function requestAPI<T>(
  path: string,
  options: IRequestOptions = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const response = await send(path, options, settings);
  const text = await response.text();
  if (!text) {
    return undefined as T;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new EnvMgrError(
      'The server answered something that is not JSON.',
      response.status
    );
  }
}

/** A file the server sends as an attachment: its text and the name it suggests. */
export async function requestFile(
  path: string,
  options: IRequestOptions = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<{ text: string; filename: string; type: string }> {
  const response = await send(path, options, settings);
  const disposition = response.headers.get('Content-Disposition') ?? '';
  const match = /filename="([^"]+)"/.exec(disposition);
  return {
    text: await response.text(),
    filename: match ? match[1] : 'environment.yml',
    type: response.headers.get('Content-Type') ?? 'text/plain'
  };
}

/**
 * Server-sent events of `envmgr/api/<path>`, read from a streamed fetch (an EventSource cannot
 * send the token header). Yields each event's parsed `data` until the server ends the stream.
 */
export async function* streamEvents(
  path: string,
  signal?: AbortSignal,
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): AsyncGenerator<ITaskEvent> {
  const response = await send(path, { signal }, settings);
  if (!response.body) {
    throw new EnvMgrError(
      trans.__('The browser cannot read a streamed answer.'),
      response.status
    );
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (value) {
        buffer += decoder.decode(value, { stream: true });
      }
      let end: number;
      while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
        const data = block
          .split(/\r?\n/)
          .filter(line => line.startsWith('data:'))
          .map(line => line.slice(5).replace(/^ /, ''))
          .join('\n');
        if (data) {
          yield JSON.parse(data) as ITaskEvent;
        }
      }
      if (done) {
        return;
      }
    }
  } finally {
    reader.releaseLock();
  }
}
