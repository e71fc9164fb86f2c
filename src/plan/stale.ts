import type { Facts } from '../facts/types.js';
import { isTunnelUnit, tunnelUnitOfConfig } from '../gateway/layout.js';
import type { DesiredState } from '../types.js';

/** What the gateway has that meshctl no longer wants — split by who created it. */
export interface StaleResources {
  /** In meshctl's manifest, no longer desired: removed (sorted). */
  paths: string[];
  /** Units in the manifest (or of a tunnel config in it), no longer desired: stopped and disabled (sorted). */
  units: string[];
  /** Tunnel configs on disk that no manifest lists: meshctl did not create them and never touches them. */
  foreignPaths: string[];
  /** Tunnel units systemd knows that no manifest lists: left alone too. */
  foreignUnits: string[];
}

/**
 * Only the manifest gives meshctl the right to delete (SPEC §3): a `mesh-*.conf` on disk that the manifest does
 * not list may be the operator's own tunnel. Without a usable manifest nothing is removed, and a manifest naming
 * anything outside meshctl's own paths and units is refused before this runs (checkManifestEntries).
 */
export function staleResources(desired: DesiredState, facts: Facts): StaleResources {
  const wantedPaths = new Set(desired.files.map((file) => file.path));
  wantedPaths.add(desired.manifestPath);
  const wantedUnits = new Set(desired.units.map((unit) => unit.name));
  const manifest = facts.manifest;
  const owned = new Set(manifest ? Object.keys(manifest.files) : []);

  const paths = [...owned].filter((path) => !wantedPaths.has(path)).sort();
  const ownedUnits = new Set(manifest?.units ?? []);
  for (const path of paths) {
    const unit = tunnelUnitOfConfig(path);
    if (unit) ownedUnits.add(unit);
  }
  const units = [...ownedUnits].filter((unit) => !wantedUnits.has(unit)).sort();

  const foreignPaths = Object.keys(facts.files)
    .filter(
      (path) => tunnelUnitOfConfig(path) && facts.files[path] && !wantedPaths.has(path) && !owned.has(path),
    )
    .sort();
  const foreignUnits = Object.entries(facts.units)
    .filter(
      ([unit, fact]) =>
        isTunnelUnit(unit) && fact.load !== 'not-found' && !wantedUnits.has(unit) && !ownedUnits.has(unit),
    )
    .map(([unit]) => unit)
    .sort();
  return { paths, units, foreignPaths, foreignUnits };
}
