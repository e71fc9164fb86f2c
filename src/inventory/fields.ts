import { type FileFindings, show } from './findings.js';
import { childPath } from './line-index.js';
import { closest } from './suggest.js';

/**
 * Typed reads of YAML values with operator-friendly messages. Each reader reports what is wrong and returns
 * undefined, so validation can go on and report every other problem too.
 */

export type Mapping = Record<string, unknown>;

export function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What a value is, in words: "a string", "a list", … */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'empty';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number') return Number.isInteger(value) ? 'a number' : 'a decimal number';
  if (typeof value === 'boolean') return 'a boolean';
  return `a ${typeof value}`;
}

/** "… is a number (5), but must be a string": the value first, as in every finding. */
export function wrongType(value: unknown, expected: string): string {
  if (value === null) return `the key has no value, but must be ${expected}`;
  return `${show(value)} is ${describe(value)}, but must be ${expected}`;
}

/** Where a key belongs when it is written at the wrong level, e.g. `endpoint` at the top of a LAN file. */
export type KeyHints = Record<string, string>;

export function checkUnknownKeys(
  mapping: Mapping,
  path: string,
  allowed: readonly string[],
  findings: FileFindings,
  hints: KeyHints = {},
): void {
  for (const key of Object.keys(mapping)) {
    if (allowed.includes(key)) continue;
    const field = childPath(path, key);
    const suggestion = closest(key, allowed);
    const hint = hints[key];
    const where = path === '' ? 'at the top level' : `under ${path}`;
    const fix = hint
      ? hint
      : suggestion
        ? `did you mean "${suggestion}"? (allowed ${where}: ${allowed.join(', ')})`
        : `remove it; the keys allowed ${where} are: ${allowed.join(', ')}`;
    findings.error(field, key, `unknown key "${key}" ${where}`, fix);
  }
}

/** Reads a mapping-valued key; absent is fine (undefined), anything but a mapping is an error. */
export function readMapping(
  parent: Mapping,
  key: string,
  path: string,
  findings: FileFindings,
): Mapping | undefined {
  const value = parent[key];
  if (value === undefined) return undefined;
  if (isMapping(value)) return value;
  const field = childPath(path, key);
  findings.error(
    field,
    value,
    wrongType(value, 'a mapping of settings'),
    `write the settings indented under "${key}:" (or as { key: value, … }), or remove the key`,
  );
  return undefined;
}

export interface ReadOptions {
  required?: boolean;
  /** Fix for a missing required key. */
  missingFix?: string;
}

function missing(field: string, findings: FileFindings, options: ReadOptions): undefined {
  if (options.required) {
    findings.error(
      field,
      undefined,
      `required key ${field} is missing`,
      options.missingFix ?? `add ${field}`,
    );
  }
  return undefined;
}

/** A non-empty string. Numbers are refused too: `name: 2024` would silently become a different type. */
export function readString(
  parent: Mapping,
  key: string,
  path: string,
  findings: FileFindings,
  options: ReadOptions = {},
): string | undefined {
  const field = childPath(path, key);
  const value = parent[key];
  if (value === undefined) return missing(field, findings, options);
  if (typeof value !== 'string') {
    findings.error(
      field,
      value,
      wrongType(value, 'a string'),
      value === null ? `give ${field} a value or remove the key` : `quote it: ${key}: "${String(value)}"`,
    );
    return undefined;
  }
  if (value.trim() === '') {
    findings.error(
      field,
      value,
      `${show(value)} is an empty string`,
      `give ${field} a value or remove the key`,
    );
    return undefined;
  }
  return value;
}

/** A whole number as written in YAML (not quoted, not `1.0`). Range checks are the caller's, with its own fix. */
export function readInteger(
  parent: Mapping,
  key: string,
  path: string,
  findings: FileFindings,
  options: ReadOptions = {},
): number | undefined {
  const field = childPath(path, key);
  const value = parent[key];
  if (value === undefined) return missing(field, findings, options);
  return checkInteger(value, field, findings);
}

export function checkInteger(value: unknown, field: string, findings: FileFindings): number | undefined {
  if (typeof value === 'string' && /^\s*[-+]?\d+\s*$/.test(value)) {
    findings.error(
      field,
      value,
      `${show(value)} is a quoted string, but must be a number`,
      `write it without quotes: ${value.trim()}`,
    );
    return undefined;
  }
  if (typeof value !== 'number') {
    findings.error(
      field,
      value,
      wrongType(value, 'a whole number'),
      `write a whole number such as 1, without quotes`,
    );
    return undefined;
  }
  if (!Number.isInteger(value)) {
    findings.error(
      field,
      value,
      `${value} is not a whole number`,
      `write a whole number such as ${Math.round(value) || 1}`,
    );
    return undefined;
  }
  const raw = findings.lines?.rawOf(field);
  if (raw !== undefined && /[.eExXoO]/.test(raw)) {
    findings.error(
      field,
      raw,
      `${raw} is not written as plain decimal digits, as whole numbers must be`,
      `write ${value}`,
    );
    return undefined;
  }
  if (!Number.isSafeInteger(value)) {
    findings.error(field, value, `${value} is too large to be exact`, 'use a small whole number');
    return undefined;
  }
  return value;
}

/** YAML 1.1 booleans that YAML 1.2 (and so meshctl) reads as strings. */
const YAML11_BOOLEANS = /^(y|yes|n|no|on|off|true|false)$/i;

export function readBoolean(
  parent: Mapping,
  key: string,
  path: string,
  findings: FileFindings,
  options: ReadOptions = {},
): boolean | undefined {
  const field = childPath(path, key);
  const value = parent[key];
  if (value === undefined) return missing(field, findings, options);
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && YAML11_BOOLEANS.test(value)) {
    const meant = /^(y|yes|on|true)$/i.test(value);
    findings.error(
      field,
      value,
      `${show(value)} is a string: YAML 1.2 reads only true and false as booleans`,
      `write ${key}: ${meant}`,
    );
    return undefined;
  }
  findings.error(field, value, wrongType(value, 'true or false'), `write ${key}: true or ${key}: false`);
  return undefined;
}

/** A list; a lone scalar where a list is expected gets a fix that shows the list form. */
export function readList(
  parent: Mapping,
  key: string,
  path: string,
  findings: FileFindings,
  options: ReadOptions = {},
): unknown[] | undefined {
  const field = childPath(path, key);
  const value = parent[key];
  if (value === undefined) return missing(field, findings, options);
  if (Array.isArray(value)) return value;
  findings.error(
    field,
    value,
    wrongType(value, 'a list'),
    value === null || value === undefined
      ? `write ${key}: [] for an empty list, or remove the key`
      : `write it as a list: ${key}: [${String(value)}]`,
  );
  return undefined;
}
