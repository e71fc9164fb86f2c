import type { ChalkInstance } from 'chalk';
import stringWidth from 'string-width';
import type { StatusReport } from '../types.js';
import { type Cell, type CellState, lanCell, lanOfGateway, problemLines, summaryLine } from './summary.js';

/**
 * The terminal view of `meshctl status` (SPEC §8): a LAN × LAN matrix (rows and columns in LAN id order), or a
 * list of LAN pairs when the matrix would not fit the width, then the problems and a one-line summary. Colour
 * comes from the chalk instance the caller passes (level 0 for NO_COLOR or off a TTY: plain text).
 */

export interface MatrixOptions {
  color: ChalkInstance;
  /** Columns available (default 80). */
  width?: number;
}

/** Short cell texts (`up`, `DOWN`, `!X`, `?`, `·`): the least width of a column. */
const CELL_WIDTH = 4;
/** Row labels never longer than this (then truncated with "…"). */
const MAX_ROW_LABEL = 24;

export function formatMatrix(report: StatusReport, opts: MatrixOptions): string {
  const width = opts.width ?? 80;
  const lanOf = lanOfGateway(report);
  const cells = new Map<string, Cell>();
  for (const a of report.lans) {
    for (const b of report.lans) if (a !== b) cells.set(`${a}\n${b}`, lanCell(report, a, b, lanOf));
  }
  const codes = columnCodes(report.lans);
  const body =
    matrixLines(report.lans, codes, cells, opts.color, width) ?? pairLines(report.lans, cells, opts.color);
  const problems = problemLines(report);
  const out = [...body, ''];
  if (problems.length > 0) {
    out.push(opts.color.bold('Problems:'));
    for (const line of problems) out.push(...wrap(`- ${line}`, width, '  '));
    out.push('');
  }
  const summary = summaryLine(report);
  for (const line of wrap(summary, width, '  ')) {
    out.push(report.health === 'healthy' ? opts.color.green(line) : paint(opts.color, report.health, line));
  }
  return `${out.join('\n')}\n`;
}

function paint(color: ChalkInstance, health: string, text: string): string {
  return health === 'error' ? color.red.bold(text) : color.yellow(text);
}

/** Column headers: the LAN names when all are short enough, else A, B, … (with a legend). */
function columnCodes(lans: string[]): { codes: string[]; abbreviated: boolean } {
  if (lans.every((name) => stringWidth(name) <= CELL_WIDTH)) return { codes: [...lans], abbreviated: false };
  return { codes: lans.map((_, i) => letterCode(i)), abbreviated: true };
}

/** A, B, …, Z, AA, AB, … */
function letterCode(i: number): string {
  let n = i;
  let code = '';
  do {
    code = String.fromCharCode(65 + (n % 26)) + code;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return code;
}

export function cellText(cell: Cell, codeOfLan: Map<string, string>): string {
  switch (cell.state) {
    case 'up':
      return 'up';
    case 'down':
      return 'DOWN';
    case 'disagree':
      return `!${codeOfLan.get(cell.disagreeingLan ?? '') ?? '?'}`;
    case 'unknown':
      return '?';
    case 'not-connected':
      return '·';
  }
}

function colour(color: ChalkInstance, state: CellState, text: string): string {
  switch (state) {
    case 'up':
      return color.green(text);
    case 'down':
      return color.red.bold(text);
    case 'disagree':
      return color.yellow.bold(text);
    default:
      return color.gray(text);
  }
}

function padEnd(text: string, to: number): string {
  return text + ' '.repeat(Math.max(0, to - stringWidth(text)));
}

/** Cuts `text` to `to` columns, ending with "…" when it had to be cut. */
function truncate(text: string, to: number): string {
  if (stringWidth(text) <= to) return text;
  let out = '';
  for (const ch of text) {
    if (stringWidth(`${out}${ch}…`) > to) break;
    out += ch;
  }
  return `${out}…`;
}

/** The matrix, or undefined when it does not fit `width`. */
function matrixLines(
  lans: string[],
  { codes, abbreviated }: { codes: string[]; abbreviated: boolean },
  cells: Map<string, Cell>,
  color: ChalkInstance,
  width: number,
): string[] | undefined {
  const n = lans.length;
  const codeWidth = Math.max(0, ...codes.map((c) => stringWidth(c)));
  // room for "!" and a code (a disagreement)
  const cellWidth = Math.max(CELL_WIDTH, codeWidth + 1);
  const columns = n * (cellWidth + 1);
  const fullLabels = lans.map((name, i) => (abbreviated ? `${codes[i]} ${name}` : name));
  const wanted = Math.min(MAX_ROW_LABEL, Math.max(0, ...fullLabels.map((l) => stringWidth(l))));
  const labelWidth = Math.min(wanted, width - columns);
  // the row label must at least show the column code of its LAN, with room for "…"
  if (labelWidth < (abbreviated ? codeWidth : Math.min(wanted, 1)) || n === 0) return undefined;
  const labels = fullLabels.map((l) => truncate(l, labelWidth));
  const codeOfLan = new Map(lans.map((name, i) => [name, codes[i]!]));
  const lines = [
    `${' '.repeat(labelWidth)}${codes.map((c) => ` ${color.bold(c)}${' '.repeat(cellWidth - stringWidth(c))}`).join('')}`.trimEnd(),
  ];
  lans.forEach((a, i) => {
    let row = padEnd(labels[i]!, labelWidth);
    lans.forEach((b, j) => {
      if (i === j) {
        row += ` ${' '.repeat(cellWidth)}`;
        return;
      }
      const cell = cells.get(`${a}\n${b}`)!;
      const text = cellText(cell, codeOfLan);
      row += ` ${colour(color, cell.state, text)}${' '.repeat(cellWidth - stringWidth(text))}`;
    });
    lines.push(row.trimEnd());
  });
  lines.push('');
  for (const legend of [
    "up: all up · DOWN: a tunnel or probe down · !X: LAN X's end is not up",
    '?: unknown · ·: not connected (the topology routes nothing between them)',
  ]) {
    lines.push(...wrap(legend, width, '  ').map((l) => color.gray(l)));
  }
  if (abbreviated && labels.some((l, i) => l !== fullLabels[i])) {
    lines.push(...wrap(`LANs: ${lans.map((name, i) => `${codes[i]} ${name}`).join(', ')}`, width, '  '));
  }
  return lines;
}

/** One line per LAN pair (a before b), for meshes too large for a matrix of the width. */
function pairLines(lans: string[], cells: Map<string, Cell>, color: ChalkInstance): string[] {
  const pairs: { label: string; cell: Cell }[] = [];
  for (let i = 0; i < lans.length; i++) {
    for (let j = i + 1; j < lans.length; j++) {
      pairs.push({ label: `${lans[i]} - ${lans[j]}`, cell: cells.get(`${lans[i]}\n${lans[j]}`)! });
    }
  }
  const labelWidth = Math.max(0, ...pairs.map((p) => stringWidth(p.label)));
  return pairs.map(({ label, cell }) => {
    const word =
      cell.state === 'disagree'
        ? `disagree (${cell.disagreeing} not up)`
        : cell.state === 'down'
          ? 'DOWN'
          : cell.state;
    return `${padEnd(label, labelWidth)}  ${colour(color, cell.state, word)}`;
  });
}

/** Word-wraps `text` to `width` columns, continuation lines starting with `indent`. */
function wrap(text: string, width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const candidate = line === '' ? word : `${line} ${word}`;
    if (stringWidth(candidate) > width && line.trim() !== '') {
      lines.push(line);
      line = `${indent}${word}`;
    } else {
      line = candidate;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}
