import type { Lab } from './lab.js';

/** What to type to look around a lab that was kept up, and to tear it down. */
export function exploreHelp(lab: Lab): string {
  const first = lab.gateways[0]!;
  const other = lab.gateways[1] ?? first;
  const user = first.sshUser ?? 'root';
  const flag = `--lab ${lab.name}`;
  return [
    `lab '${lab.name}' is up: ${lab.gateways.map((g) => `${g.name} (${lab.publicAddress(g.name)})`).join(', ')}`,
    `  folder:    ${lab.dir} (SSH key, known_hosts, state.json)`,
    `  inventory: ${lab.inventoryDir}`,
    'explore (as root, from the repository):',
    `  npm run lab -- exec ${first.name} ${flag} -- systemctl list-units 'openvpn*'`,
    `  npm run lab -- ssh ${first.name} ${flag} -- ip route`,
    `  npm run lab -- lan ${first.name} ${flag} -- ping -c 1 ${lab.lanHostAddress(other.name)}`,
    `  npm run lab -- ping-matrix ${flag}`,
    `  npm run lab -- meshctl ${flag} -- validate`,
    `  ip netns exec ${lab.ctlNamespace} ssh -i ${lab.identityFile} -o UserKnownHostsFile=${lab.knownHostsFile} ${user}@${lab.publicAddress(first.name)}`,
    'tear down:',
    `  npm run lab -- down ${lab.name}`,
  ].join('\n');
}
