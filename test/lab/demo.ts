import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { exploreHelp } from './explore.js';
import { ensureImage } from './image.js';
import {
  installSignalTeardown,
  Lab,
  type LabSpec,
  labSpecFromInventory,
  reapOrphans,
  signalTeardownDone,
} from './lab.js';
import { EXAMPLE_INVENTORY, INSTALL_DEPS_SCRIPT, MESHCTL_CLI } from './paths.js';
import { prerequisiteProblems } from './prerequisites.js';
import { LabError, type RunResult } from './run.js';
import { readState } from './state.js';

/**
 * `npm run demo [-- --keep]`: real gateways for the example inventory on this machine, meshctl run against them,
 * the LAN-to-LAN ping matrix, then teardown (or, with --keep, the commands to explore and to tear down).
 */

const LAB_NAME = 'demo';

/** Used only when the repository has no example inventory. */
const FALLBACK_SPEC: LabSpec = {
  name: LAB_NAME,
  mesh: 'demo',
  gateways: [
    { name: 'head-office', id: 1, subnets: ['10.1.0.0/16'] },
    { name: 'datacenter', id: 2, subnets: ['10.20.0.0/16', '192.168.50.0/24'] },
    { name: 'branch', id: 3, subnets: ['192.168.10.0/27'] },
  ],
};

const say = (line = '') => console.log(line);
const step = (title: string) => say(`\n== ${title}`);

function show(result: RunResult): void {
  const text = `${result.stdout}${result.stderr}`.trimEnd();
  if (text) say(text.replace(/^/gm, '   | '));
  say(`   exit ${result.code}`);
}

async function main(keep: boolean): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error(
      'The demo boots Debian containers with systemd-nspawn in network namespaces, which needs root.\n' +
        'Run it as root: sudo npm run demo   (add -- --keep to explore the lab afterwards)',
    );
    return 1;
  }
  if (prerequisiteProblems().length > 0) {
    step('Installing the packages the lab needs (test/lab/install-deps.sh)');
    const install = spawnSync('sh', [INSTALL_DEPS_SCRIPT], { stdio: 'inherit' });
    const left = prerequisiteProblems();
    if (install.status !== 0 || left.length > 0) {
      console.error(`cannot prepare this machine for the lab:\n  ${left.join('\n  ')}`);
      return 1;
    }
  }
  installSignalTeardown((line) => say(`demo: ${line}`));
  await reapOrphans((line) => say(`demo: ${line}`));
  if (readState(LAB_NAME)) {
    console.error(
      `a '${LAB_NAME}' lab is already up (kept by an earlier demo): explore it, or tear it down with\n` +
        `  npm run lab -- down ${LAB_NAME}`,
    );
    return 1;
  }

  const fromExample = existsSync(join(EXAMPLE_INVENTORY, 'mesh.yml'));
  const spec = fromExample ? labSpecFromInventory(EXAMPLE_INVENTORY, LAB_NAME) : FALLBACK_SPEC;
  const meshctlBuilt = existsSync(MESHCTL_CLI);
  step('What this demo does');
  say(
    [
      `1. Build (once, then cached) a Debian image and boot ${spec.gateways.length} gateways from it, ` +
        `one per LAN of ${fromExample ? 'the example inventory (inventory/)' : 'a built-in 3-LAN example'}:`,
      ...spec.gateways.map(
        (g) =>
          `     ${g.name.padEnd(14)} 198.18.0.${g.id}  LAN ${g.subnets.join(', ')}` +
          `${g.sshUser ? `  (SSH as ${g.sshUser} with sudo)` : ''}`,
      ),
      '   Each is a real systemd host with sshd and its own network; one "LAN host" sits behind each gateway.',
      '2. Write an inventory for them (lab addresses, a fresh SSH key, a known_hosts with their host keys).',
      "3. Run meshctl from the lab's bastion namespace: `validate`, `render --out rendered`, `apply` (which",
      '   installs nothing here but configs, keys, forwarding and firewall, and starts every tunnel), then',
      '   `diff`, which must find nothing left to do, and `status`, which reads every tunnel from both ends and',
      '   probes every LAN pair through the mesh (and writes the page status.html).',
      '4. Ping every LAN from every other LAN and print the matrix: after apply, every cell should be ok.',
      `5. ${keep ? 'Keep the lab up and print the commands to explore it and to tear it down.' : 'Tear everything down (pass -- --keep to explore instead).'}`,
    ].join('\n'),
  );

  step('Gateway image');
  const image = await ensureImage({ openvpn: true }, (line) => say(`   ${line}`));
  say(`   ${image.built ? 'built' : 'cached'}: ${image.path}`);

  step(`Booting ${spec.gateways.length} gateways`);
  const lab = await Lab.up(spec, { log: (line) => say(`   ${line}`) });
  let code = 0;
  try {
    say(`   inventory: ${lab.inventoryDir}`);
    let applied = false;
    if (!meshctlBuilt) {
      step('meshctl');
      say(`   meshctl is not built yet (${MESHCTL_CLI} is missing): skipping the meshctl steps.`);
    } else {
      step('meshctl validate');
      const validate = await lab.meshctl(['validate', '--no-color']);
      show(validate);
      if (validate.code !== 0) code = 1;
      step(`meshctl render --out ${join(lab.dir, 'rendered')}`);
      const render = await lab.meshctl(['render', '--out', 'rendered', '--no-color']);
      show(render);
      if (render.code !== 0) code = 1;
      step('meshctl apply --accept-new');
      const apply = await lab.meshctl(['apply', '--accept-new', '--no-color'], { timeoutMs: 600_000 });
      show(apply);
      applied = apply.code === 0;
      if (!applied) code = 1;
      step('meshctl diff (after apply: nothing to do, exit 0)');
      const diff = await lab.meshctl(['diff', '--no-color']);
      say(
        `   ${diff.stdout
          .trim()
          .split('\n')
          .slice(-lab.gateways.length - 1)
          .join('\n   ')}`,
      );
      say(`   exit ${diff.code}`);
      if (diff.code !== 0) code = 1;
      step(
        `meshctl status --html ${join(lab.dir, 'status.html')} (every tunnel from both ends, every LAN pair probed)`,
      );
      // a tunnel started by apply a moment ago may still be coming up at its other end
      let status = await lab.meshctl(['status', '--no-color', '--html', 'status.html']);
      for (let attempt = 0; status.code === 2 && attempt < 10; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        status = await lab.meshctl(['status', '--no-color', '--html', 'status.html']);
      }
      show(status);
      if (status.code !== 0) code = 1;
    }
    step('LAN-to-LAN ping matrix (rows ping columns)');
    const results = await lab.pingMatrix();
    const { formatPingMatrix } = await import('./ping-matrix.js');
    say(
      formatPingMatrix(
        lab.gateways.map((g) => g.name),
        results,
      ).replace(/^/gm, '   '),
    );
    if (applied && results.some((r) => !r.ok)) {
      say('   apply succeeded but some LANs cannot reach each other: that is a bug worth reporting.');
      code = 1;
    }
  } catch (error) {
    console.error(error instanceof LabError ? `demo: ${error.message}` : error);
    code = 1;
  } finally {
    if (keep) {
      lab.keep();
      step('The lab stays up');
      say(exploreHelp(lab));
    } else {
      step('Tearing down');
      await lab.down();
    }
  }
  return code;
}

main(process.argv.slice(2).includes('--keep')).then(
  async (code) => {
    await signalTeardownDone();
    process.exit(code);
  },
  async (error: Error) => {
    await signalTeardownDone();
    console.error(error instanceof LabError ? `demo: ${error.message}` : error);
    process.exit(1);
  },
);
