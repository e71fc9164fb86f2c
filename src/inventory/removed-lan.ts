import path from 'node:path';
import { InventoryError } from '../errors.js';
import type { Diagnostic, Inventory, Lan } from '../types.js';
import { FileFindings } from './findings.js';
import { readLanFile } from './lan-file.js';
import { lanFromDraft } from './load.js';
import { homedirFrom } from './ssh-settings.js';
import { readYamlFile } from './yaml-source.js';

/**
 * The LAN remove-lan takes out, read from its own file against the rest of the inventory. It is read on its own
 * because once its id is in retired_ids (the first step of remove-lan) the whole inventory no longer loads with
 * it, yet a re-run still needs its id and its gateway's SSH settings to finish.
 */
export function readRemovedLan(file: string, name: string, remaining: Inventory, shownFile: string): Lan {
  const diagnostics: Diagnostic[] = [];
  const findings = new FileFindings(shownFile, diagnostics);
  const context = { inventoryDir: remaining.dir, homedir: homedirFrom({ env: process.env }) };
  const doc = readYamlFile(path.resolve(file), findings);
  if (doc) {
    findings.lines = doc.lines;
    const draft = readLanFile(name, path.resolve(file), doc.data, findings, remaining.mesh.ssh, context);
    const complete =
      draft.gateways.length > 0 && draft.gateways.every((g) => g.id !== undefined && g.sshHost !== undefined);
    if (!diagnostics.some((d) => d.severity === 'error') && complete) return lanFromDraft(draft);
  }
  throw new InventoryError(
    diagnostics.filter((d) => d.severity === 'error'),
    `${shownFile} is invalid: remove-lan needs its ids (to retire them) and its gateways (to clean them). Fix the file and re-run`,
  );
}
