import fs from 'node:fs';
import type { CancelReason, TaskError } from '../types.js';

/** Once a buffer holds this many characters, it is written out. */
export const FLUSH_THRESHOLD = 64 * 1024;

/** Writes all of `text` to an open file descriptor, synchronously. */
export function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  let offset = 0;
  while (offset < bytes.length) {
    offset += fs.writeSync(fd, bytes, offset, bytes.length - offset);
  }
}

/** Splits a message into lines; a trailing newline does not add an empty line. */
export function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** `0.5` → `50%`; out-of-range or non-finite fractions are clamped. */
export function formatPercent(fraction: number): string {
  const clamped = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  return `${Math.round(clamped * 100)}%`;
}

/** `1234` → `1.2s`, `125000` → `2m05s`, `3720000` → `1h02m`. */
export function formatDuration(ms: number): string {
  const safe = Number.isFinite(ms) && ms > 0 ? ms : 0;
  if (safe < 60_000) return `${(safe / 1000).toFixed(1)}s`;
  const seconds = Math.floor(safe / 1000);
  if (seconds < 3600) {
    return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  }
  const minutes = Math.floor(seconds / 60);
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** `exit 1`, `signal SIGKILL`, or `` when the error carries neither. */
export function formatExit(error: TaskError): string {
  const parts: string[] = [];
  // Said only when the message does not already say it ("exited with code 2").
  const { exitCode, signal, message } = error;
  if (exitCode !== undefined && !message.includes(`code ${exitCode}`))
    parts.push(`exit ${exitCode}`);
  if (signal !== undefined && !message.includes(signal)) parts.push(`signal ${signal}`);
  return parts.join(', ');
}

/** `prerequisite fetch`, `fail-fast`, `interrupted`, `parent`. */
export function formatCancel(reason: CancelReason, prerequisite?: string): string {
  return prerequisite === undefined ? reason : `${reason} ${prerequisite}`;
}
