import type { Diagnostic } from '../types.js';
import type { LineIndex } from './line-index.js';

/**
 * Collects the findings about one file. Validation never stops at the first problem: every check reports here and
 * the loader fails once at the end. The line comes from the file's LineIndex, so callers only name the field.
 */
export class FileFindings {
  private errors = 0;

  constructor(
    /** The file as the operator sees it, e.g. `inventory/lans/branch.yml`. */
    readonly file: string,
    private readonly sink: Diagnostic[],
    /** Set once the file is parsed; before that, findings carry the line they are given, if any. */
    public lines?: LineIndex,
  ) {}

  /** How many errors were reported about this file so far: a block is usable only if reading it added none. */
  errorCount(): number {
    return this.errors;
  }

  error(field: string, value: unknown, message: string, fix: string): void {
    this.add('error', field, value, message, fix);
  }

  /** For problems found before there is a line index (syntax errors, encoding): the line is known directly. */
  errorAtLine(line: number | undefined, field: string, value: unknown, message: string, fix: string): void {
    this.add('error', field, value, message, fix, line);
  }

  warning(field: string, value: unknown, message: string, fix: string): void {
    this.add('warning', field, value, message, fix);
  }

  /** `file:line` of a field, for messages that point at another file. */
  where(field: string): string {
    const line = this.lines?.lineOf(field);
    return line === undefined ? this.file : `${this.file}:${line}`;
  }

  private add(
    severity: Diagnostic['severity'],
    field: string,
    value: unknown,
    message: string,
    fix: string,
    knownLine?: number,
  ): void {
    if (severity === 'error') this.errors++;
    const diagnostic: Diagnostic = { severity, file: this.file, field, message, fix };
    const line = knownLine ?? this.lines?.lineOf(field);
    if (line !== undefined) diagnostic.line = line;
    if (value !== undefined) diagnostic.value = value;
    this.sink.push(diagnostic);
  }
}

/** Quotes a value the way it appears in messages: strings in double quotes, the rest as JSON. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  return JSON.stringify(value) ?? String(value);
}
