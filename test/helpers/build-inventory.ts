import type { Inventory, Lan, SshSettings } from '../../src/types.js';

/** Builds an Inventory in memory (no files), for tests of the pure stages. */
export function buildInventory(
  lans: { name: string; id: number; subnets?: string[]; endpoint?: string }[],
  mesh: { name?: string; transit?: string; portBase?: number } = {},
): Inventory {
  const ssh: SshSettings = { user: 'root', port: 22, knownHosts: '/nonexistent/known_hosts', become: false };
  const built: Lan[] = lans.map((l) => ({
    name: l.name,
    id: l.id,
    subnets: l.subnets ?? [`10.${l.id}.0.0/16`],
    endpoint: l.endpoint ?? `198.51.100.${l.id}`,
    sshHost: l.endpoint ?? `198.51.100.${l.id}`,
    ssh,
    file: `/inventory/lans/${l.name}.yml`,
  }));
  return {
    dir: '/inventory',
    meshFile: '/inventory/mesh.yml',
    mesh: {
      name: mesh.name ?? 'test',
      transit: mesh.transit ?? '172.19.0.0/16',
      portBase: mesh.portBase ?? 11000,
      retiredIds: [],
      pkiDir: '/inventory/pki',
      ssh,
      openvpn: { keepalive: [10, 60], extra: [] },
    },
    lans: built.sort((a, b) => a.id - b.id),
  };
}
