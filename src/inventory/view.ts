import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Diagnostic, Inventory } from '../types.js';
import { type LoadOptions, loadInventory } from './load.js';

/**
 * The inventory as it would be after a change, validated by the same loader as `meshctl validate` without
 * touching the operator's files: mesh.yml and lans/ are copied into a private temporary directory, with one LAN
 * file added or left out, and loaded there.
 *
 * The copy sits at `<tmp>/<the inventory's absolute path>`, so a relative path in the inventory (pki_dir,
 * identity_file, `../keys`) resolves to `<tmp>` + the path it has in the real inventory: stripping `<tmp>` from
 * every path and message gives the real one back, and diagnostics name the operator's files as they typed them.
 */

export interface ViewChange {
  /** A LAN file to add: lans/<name>.yml with this text. */
  add?: { name: string; text: string };
  /** A LAN to leave out: lans/<name>.yml is not copied. */
  omit?: string;
}

export interface ViewResult {
  /** The would-be inventory with real paths; present only when it is valid. */
  inventory?: Inventory;
  /** Every finding, naming the operator's files (`dir` as given). */
  diagnostics: Diagnostic[];
}

export function loadInventoryView(dir: string, change: ViewChange, opts: LoadOptions = {}): ViewResult {
  const root = mkdtempSync(path.join(tmpdir(), 'meshctl-view-'));
  try {
    const view = path.join(root, path.resolve(dir));
    copyInventory(dir, view, change);
    const { inventory, diagnostics } = loadInventory(view, opts);
    const shown = path.join(dir);
    const real = (text: string) => text.split(view).join(shown).split(root).join('');
    const realPath = (p: string) => (p.startsWith(`${root}/`) ? p.slice(root.length) : p);
    return {
      diagnostics: diagnostics.map((d) => ({
        ...d,
        file: d.file.startsWith(view) ? path.join(dir, d.file.slice(view.length)) : real(d.file),
        message: real(d.message),
        fix: real(d.fix),
        ...(typeof d.value === 'string' ? { value: real(d.value) } : {}),
      })),
      ...(inventory ? { inventory: withRealPaths(inventory, realPath) } : {}),
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** mesh.yml and every entry of lans/ (files copied, directories as empty ones so the loader still reports them). */
function copyInventory(dir: string, view: string, change: ViewChange): void {
  mkdirSync(view, { recursive: true, mode: 0o700 });
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return;
  const meshFile = path.join(dir, 'mesh.yml');
  if (existsSync(meshFile)) copyFileSync(meshFile, path.join(view, 'mesh.yml'));
  const lans = path.join(dir, 'lans');
  if (!existsSync(lans) || !statSync(lans).isDirectory()) {
    if (!change.add) return;
    mkdirSync(path.join(view, 'lans'));
  } else {
    mkdirSync(path.join(view, 'lans'));
    for (const entry of readdirSync(lans)) {
      if (change.omit !== undefined && entry === `${change.omit}.yml`) continue;
      const source = path.join(lans, entry);
      const target = path.join(view, 'lans', entry);
      const stat = statSync(source, { throwIfNoEntry: false });
      if (stat?.isDirectory()) mkdirSync(target);
      else if (stat?.isFile()) copyFileSync(source, target);
    }
  }
  if (change.add) writeFileSync(path.join(view, 'lans', `${change.add.name}.yml`), change.add.text);
}

function withRealPaths(inventory: Inventory, realPath: (p: string) => string): Inventory {
  const ssh = <T extends { identityFile?: string; knownHosts: string }>(s: T): T => ({
    ...s,
    ...(s.identityFile === undefined ? {} : { identityFile: realPath(s.identityFile) }),
    knownHosts: realPath(s.knownHosts),
  });
  return {
    dir: realPath(inventory.dir),
    meshFile: realPath(inventory.meshFile),
    mesh: { ...inventory.mesh, pkiDir: realPath(inventory.mesh.pkiDir), ssh: ssh(inventory.mesh.ssh) },
    lans: inventory.lans.map((lan) => ({
      ...lan,
      file: realPath(lan.file),
      gateways: lan.gateways.map((g) => ({ ...g, file: realPath(g.file), ssh: ssh(g.ssh) })),
    })),
    gateways: inventory.gateways.map((g) => ({ ...g, file: realPath(g.file), ssh: ssh(g.ssh) })),
  };
}
