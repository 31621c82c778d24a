/** Small display helpers shared by the components (pure, unit-tested). */
import type { TranslationBundle } from '@jupyterlab/translation';

/**
 * A size the way pexlab's Python side writes it (pexlab.notebook_progress.format_size):
 * binary units (1 KB = 1024 B) up to GB, one decimal above bytes. The build log and the
 * panel must show the same number for the same file. Empty for an unknown size.
 */
export function formatBytes(size: number | null | undefined): string {
  if (size === null || size === undefined || !Number.isFinite(size)) {
    return '';
  }
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0
    ? `${value.toFixed(0)} B`
    : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * A file path with break opportunities after each separator, so a narrow panel wraps it
 * between folders rather than mid-name.
 */
export function pathParts(path: string): string[] {
  return path.split(/(?<=[/\\])/);
}

/** Seconds since the epoch, from a unix time (s) or an ISO date string. */
export function toSeconds(
  time: number | string | null | undefined
): number | null {
  if (time === null || time === undefined || time === '') {
    return null;
  }
  if (typeof time === 'number') {
    return time > 1e12 ? time / 1000 : time;
  }
  if (/^\d+(\.\d+)?$/.test(time.trim())) {
    return toSeconds(parseFloat(time)); // unix time sent as a string
  }
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? null : ms / 1000;
}

/** "12 s", "3 min 05 s", "1 h 02 min". */
export function formatDuration(
  seconds: number,
  trans: TranslationBundle
): string {
  const s = Math.max(0, Math.floor(seconds));
  const two = (n: number) => String(n).padStart(2, '0');
  if (s < 60) {
    return trans.__('%1 s', s);
  }
  if (s < 3600) {
    return trans.__('%1 min %2 s', Math.floor(s / 60), two(s % 60));
  }
  return trans.__(
    '%1 h %2 min',
    Math.floor(s / 3600),
    two(Math.floor((s % 3600) / 60))
  );
}

export function formatAge(
  time: number | string | null | undefined,
  now: number,
  trans: TranslationBundle
): string {
  const t = toSeconds(time);
  if (t === null) {
    return '';
  }
  return formatDuration(now - t, trans);
}
