import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { InventoryError } from '../errors.js';
import type { Diagnostic, Gateway, Inventory, Lan } from '../types.js';
import { crossCheck } from './cross-checks.js';
import { FileFindings } from './findings.js';
import { type LanDraft, readLanFile } from './lan-file.js';
import { defaultMeshDraft, type MeshDraft, readMeshFile } from './mesh-file.js';
import { homedirFrom, type PathContext } from './ssh-settings.js';
import { readYamlFile } from './yaml-source.js';

export interface LoadOptions {
  /** Environment for `~` expansion (HOME); defaults to the process's. */
  env?: NodeJS.ProcessEnv;
  /** Overrides the home directory used for `~`. */
  homedir?: string;
}

export interface LoadResult {
  /** Present only when there are no errors (warnings allowed). */
  inventory?: Inventory;
  diagnostics: Diagnostic[];
}

/**
 * Reads DIR/mesh.yml and DIR/lans/*.yml, validates everything and reports every problem at once. Diagnostic files
 * are `path.join(dir, …)` with `dir` as the operator typed it, so messages point where they look.
 */
export function loadInventory(dir: string, opts: LoadOptions = {}): LoadResult {
  const diagnostics: Diagnostic[] = [];
  const context: PathContext = {
    inventoryDir: path.resolve(dir),
    homedir: homedirFrom({ env: process.env, ...opts }),
  };

  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    new FileFindings(dir, diagnostics).error(
      '',
      dir,
      existsSync(dir) ? `inventory ${dir} is not a directory` : `inventory directory ${dir} does not exist`,
      `create one with \`meshctl init ${dir}\`, or point -i/--inventory at an existing inventory`,
    );
    return { diagnostics };
  }

  const meshFile = path.join(dir, 'mesh.yml');
  const meshFindings = new FileFindings(meshFile, diagnostics);
  const meshDoc = existsSync(meshFile) ? readYamlFile(meshFile, meshFindings) : undefined;
  if (!existsSync(meshFile)) {
    const misnamed = path.join(dir, 'mesh.yaml');
    meshFindings.error(
      '',
      undefined,
      'mesh.yml is missing',
      existsSync(misnamed)
        ? `rename ${misnamed} to mesh.yml`
        : `create it with \`meshctl init ${dir}\` (it needs at least \`name: MESHNAME\`)`,
    );
  }
  meshFindings.lines = meshDoc?.lines;
  // Without a readable mesh.yml (already reported), LANs are still checked, against the defaults.
  const mesh = meshDoc
    ? readMeshFile(meshDoc.data, meshFindings, context)
    : defaultMeshDraft(meshFindings, context);

  const lans: LanDraft[] = [];
  for (const { name, file } of listLanFiles(dir, diagnostics)) {
    const findings = new FileFindings(file, diagnostics);
    const doc = readYamlFile(file, findings);
    if (!doc) continue;
    findings.lines = doc.lines;
    lans.push(readLanFile(name, path.resolve(file), doc.data, findings, mesh.ssh, context));
  }
  crossCheck(mesh, lans);

  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  return { inventory: buildInventory(dir, mesh, lans), diagnostics };
}

/** Loads, or throws InventoryError carrying every diagnostic. */
export function loadInventoryOrThrow(
  dir: string,
  opts: LoadOptions = {},
): { inventory: Inventory; warnings: Diagnostic[] } {
  const { inventory, diagnostics } = loadInventory(dir, opts);
  if (!inventory) throw new InventoryError(diagnostics);
  return { inventory, warnings: diagnostics.filter((d) => d.severity === 'warning') };
}

/** True when `file` (links resolved) lies inside `dir` (links resolved). A dangling link is outside. */
function insideDir(file: string, dir: string): boolean {
  try {
    const target = realpathSync(file);
    const root = realpathSync(dir);
    return target.startsWith(root + path.sep);
  } catch {
    return false;
  }
}

/** `lans/*.yml`, sorted; anything else in lans/ is reported so a misnamed file is not silently skipped. */
function listLanFiles(dir: string, diagnostics: Diagnostic[]): { name: string; file: string }[] {
  const lansDir = path.join(dir, 'lans');
  const findings = new FileFindings(lansDir, diagnostics);
  if (!existsSync(lansDir) || !statSync(lansDir).isDirectory()) {
    findings.error(
      '',
      undefined,
      'the lans/ directory is missing: there is no LAN in the mesh',
      `create it with \`meshctl init\`, or add one file per LAN as ${path.join(lansDir, 'NAME.yml')}`,
    );
    return [];
  }
  const files: { name: string; file: string }[] = [];
  for (const entry of readdirSync(lansDir, { withFileTypes: true }).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const file = path.join(lansDir, entry.name);
    const other = new FileFindings(file, diagnostics);
    if (entry.name.startsWith('.')) {
      // Hidden files (.gitkeep, editor swap files) are not LANs and are no one's mistake, but a hidden NAME.yml
      // is a LAN someone tried to switch off: ignoring it would tear its tunnels down on the next apply.
      if (entry.name.endsWith('.yml')) {
        other.error(
          '',
          entry.name,
          `${entry.name} is hidden (its name starts with a dot), so it would not be read as a LAN`,
          `rename it to ${entry.name.replace(/^\.+/, '') || 'NAME.yml'} if it is a LAN; to take a LAN out of the mesh, use \`meshctl remove-lan\``,
        );
      }
      continue;
    }
    // A symlinked LAN file is fine inside the inventory; one leading elsewhere is refused, because messages quote
    // the file's text and the inventory should hold everything the mesh is built from.
    if (entry.isSymbolicLink() && !insideDir(file, dir)) {
      other.error(
        '',
        entry.name,
        `${entry.name} is a symbolic link to a file outside the inventory ${dir}`,
        'replace the link with the LAN file itself',
      );
      continue;
    }
    const isFile =
      entry.isFile() || (entry.isSymbolicLink() && statSync(file, { throwIfNoEntry: false })?.isFile());
    if (isFile && entry.name.endsWith('.yml'))
      files.push({ name: entry.name.slice(0, -'.yml'.length), file });
    else if (entry.name.endsWith('.yaml')) {
      other.error(
        '',
        entry.name,
        `${entry.name} ends in .yaml; only .yml files in lans/ are read`,
        `rename it to ${file.slice(0, -5)}.yml`,
      );
    } else {
      other.error(
        '',
        entry.name,
        `${entry.name} is not a NAME.yml file; lans/ holds one NAME.yml per LAN and nothing else`,
        entry.isDirectory()
          ? 'move the directory out of lans/'
          : `rename it to NAME.yml if it is a LAN, or move it out of lans/`,
      );
    }
  }
  if (files.length === 0 && !diagnostics.some((d) => d.file.startsWith(lansDir))) {
    findings.error(
      '',
      undefined,
      'the lans/ directory is empty: there is no LAN in the mesh',
      `add one file per LAN as ${path.join(lansDir, 'NAME.yml')} (\`meshctl init\` shows a commented example)`,
    );
  }
  return files;
}

/** A LAN from its validated draft (every field set: callers check there were no errors first). */
export function lanFromDraft(d: LanDraft): Lan {
  const subnets = d.subnets.map((s) => s.text);
  const gateways = d.gateways.map(
    (g): Gateway => ({
      name: g.name!,
      id: g.id!,
      lan: d.name,
      subnets: g.subnets?.map((s) => s.text) ?? subnets,
      backupSubnets: g.backupSubnets.map((s) => s.text),
      endpoint: g.endpoint!,
      sshHost: g.sshHost!,
      ssh: g.ssh,
      file: d.file,
      ...(g.cloud ? { cloud: g.cloud } : {}),
    }),
  );
  gateways.sort((a, b) => a.id - b.id);
  return {
    name: d.name,
    // a LAN written with gateways: has no id of its own: it is known by its lowest gateway id
    id: d.id ?? gateways[0]!.id,
    subnets,
    via: d.via,
    gateways,
    file: d.file,
    ...(d.cloud ? { cloud: d.cloud } : {}),
  };
}

function buildInventory(dir: string, mesh: MeshDraft, drafts: LanDraft[]): Inventory {
  const lans: Lan[] = drafts.map(lanFromDraft).sort((a, b) => a.id - b.id);
  return {
    dir: path.resolve(dir),
    meshFile: path.resolve(dir, 'mesh.yml'),
    mesh: {
      name: mesh.name!,
      transit: mesh.transit!,
      portBase: mesh.portBase!,
      retiredIds: mesh.retiredIds,
      pkiDir: mesh.pkiDir,
      ssh: mesh.ssh,
      openvpn: mesh.openvpn,
      routing: mesh.routing!,
      bgp: mesh.bgp!,
    },
    lans,
    gateways: lans.flatMap((lan) => lan.gateways).sort((a, b) => a.id - b.id),
  };
}
