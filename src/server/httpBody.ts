/** Request bodies and error replies of the HTTP server: JSON in, JSON out, one clear message per problem. */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A reply with a status code and a message for the client (never a stack trace). */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Reads a JSON object body of at most `limitBytes`. */
export async function readJsonBody(request: IncomingMessage, limitBytes: number): Promise<Record<string, unknown>> {
  const type = request.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) throw new HttpError(415, `the request body must be JSON (Content-Type: application/json), got ${type || 'no Content-Type'}`);
  const declared = Number(request.headers['content-length']);
  if (declared > limitBytes) throw new HttpError(413, `the request body is ${declared} bytes, over the limit of ${limitBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw new HttpError(413, `the request body is over the limit of ${limitBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new HttpError(400, `the request body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

export function sendJson(response: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  response.end(text);
}

/** Field readers: each names the field and what was wrong with it. */
export const field = {
  string(body: Record<string, unknown>, name: string): string | undefined {
    const value = body[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') throw new HttpError(400, `"${name}" must be a string`);
    return value;
  },
  number(body: Record<string, unknown>, name: string, check: (x: number) => boolean, what: string): number | undefined {
    const value = body[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) throw new HttpError(400, `"${name}" must be ${what}, got ${JSON.stringify(value)}`);
    return value;
  },
  boolean(body: Record<string, unknown>, name: string): boolean | undefined {
    const value = body[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') throw new HttpError(400, `"${name}" must be true or false`);
    return value;
  },
  strings(body: Record<string, unknown>, name: string): string[] {
    const value = body[name];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new HttpError(400, `"${name}" must be a list of strings`);
    return value as string[];
  },
};
