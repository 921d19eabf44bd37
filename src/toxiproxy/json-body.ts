/**
 * Reading and parsing an API request body as toxiproxy (Go's encoding/json)
 * would: a body over the cap is read to its end (up to a discard bound) and
 * answered 413, not reset; JSON nested deeper than Go's 10000 levels is
 * refused with Go's text before it is parsed, so nothing later recurses
 * over it (JSON.stringify in an error message would overflow the stack).
 */
import type { IncomingMessage } from 'node:http';
import { errorMessage } from '../errors.js';
import { ApiError } from './api-error.js';

/** A request body larger than this is refused: the API's bodies are a few hundred bytes. */
const MAX_BODY_BYTES = 1024 * 1024;
/** An oversized body is read (and discarded) up to this much, so that its sender reads the 413; past it the connection is closed after the answer. */
const MAX_DISCARD_BYTES = 16 * 1024 * 1024;
/** Go's encoding/json maxNestingDepth. */
const MAX_NESTING_DEPTH = 10_000;

function tooLarge(): ApiError {
  return new ApiError(`bad request body: larger than ${MAX_BODY_BYTES} bytes`, 413);
}

/** Resolves with the body text; rejects with a 413 ApiError (`close`: the rest was not read). */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > MAX_DISCARD_BYTES) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
      else if (size > MAX_DISCARD_BYTES) {
        req.pause();
        reject(tooLarge());
      }
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) reject(tooLarge());
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

/** The first bracket nested deeper than Go allows, or '' when none is. Strings are skipped, escapes and all. */
function tooDeep(text: string): string {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > MAX_NESTING_DEPTH) return text[i] ?? '';
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return '';
}

/** The body as JSON (`{}` when empty); a 400 with Go's text for too deep a value, JSON.parse's for a syntax error. */
export function parseBody(text: string): unknown {
  if (text.trim() === '') return {};
  const deep = tooDeep(text);
  if (deep !== '') throw new ApiError(`bad request body: invalid character '${deep}' exceeded max depth`, 400);
  try {
    return JSON.parse(text) as unknown;
  } catch (err: unknown) {
    throw new ApiError(`bad request body: ${errorMessage(err)}`, 400);
  }
}
