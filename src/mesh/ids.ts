/**
 * LAN ids for add-lan (SPEC §2): a pair's port and transit /30 derive from the two ids, so an id that was ever
 * used — by a current LAN or a removed one (retired_ids) — must never be handed out again. Pure.
 */

export interface IdsInUse {
  /** Ids of the LANs in the inventory, with their names for messages. */
  lans: { name: string; id: number }[];
  /** mesh.yml retired_ids. */
  retired: number[];
}

/** The next id never used: one more than every current and every retired id. */
export function nextLanId(ids: IdsInUse): number {
  return Math.max(0, ...ids.retired, ...ids.lans.map((lan) => lan.id)) + 1;
}

/** Why `id` cannot be given to a new LAN (message with the fix), or undefined when it can. */
export function requestedIdProblem(id: number, ids: IdsInUse): string | undefined {
  const next = nextLanId(ids);
  if (!Number.isSafeInteger(id) || id < 1) {
    return `--id ${id} is not a positive integer: LAN ids are whole numbers from 1. Fix: leave --id out to take ${next}, or pass --id ${next}`;
  }
  const owner = ids.lans.find((lan) => lan.id === id);
  if (owner) {
    return `--id ${id} is already the id of LAN "${owner.name}". Fix: leave --id out to take ${next} (the next id never used)`;
  }
  if (ids.retired.includes(id)) {
    return `--id ${id} is in retired_ids of mesh.yml: it belonged to a removed LAN, and reusing it would give the new LAN that LAN's ports and transit addresses. Fix: leave --id out to take ${next}`;
  }
  return undefined;
}
