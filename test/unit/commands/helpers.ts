import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createOutput, type Output } from '../../../src/output.js';

/** A throw-away inventory: DIR/mesh.yml and DIR/lans/<name>.yml from the given texts. */
export function makeInventory(mesh: string, lans: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'meshctl-lan-'));
  const dir = path.join(root, 'inventory');
  mkdirSync(path.join(dir, 'lans'), { recursive: true });
  writeFileSync(path.join(dir, 'mesh.yml'), mesh);
  for (const [name, text] of Object.entries(lans)) writeFileSync(path.join(dir, 'lans', `${name}.yml`), text);
  return dir;
}

export function lanText(id: number, subnet: string, endpoint: string): string {
  return `# LAN ${id}\nid: ${id}\nsubnets: [${subnet}]\ngateway:\n  endpoint: ${endpoint}\n`;
}

/** Every file under `dir` (relative path → sha256), to prove what a command did or did not write. */
export function snapshot(dir: string): Record<string, string> {
  const result: Record<string, string> = {};
  const walk = (sub: string) => {
    for (const entry of readdirSync(path.join(dir, sub))) {
      const rel = path.join(sub, entry);
      if (statSync(path.join(dir, rel)).isDirectory()) walk(rel);
      else
        result[rel] = createHash('sha256')
          .update(readFileSync(path.join(dir, rel)))
          .digest('hex');
    }
  };
  walk('');
  return result;
}

/** An Output whose lines are kept for assertions. */
export function capture(): { out: Output; stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const out = createOutput({
    color: false,
    stdout: { write: (s: string) => stdout.push(s), isTTY: false },
    stderr: { write: (s: string) => stderr.push(s) },
  });
  return { out, stdout, stderr };
}
