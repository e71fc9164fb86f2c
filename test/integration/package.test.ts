import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The package as a user gets it: a clean checkout (the files git knows, no dist/, no node_modules) is packed with
 * `npm pack` (whose prepack compiles src/), the tarball is unpacked where `npm install -g --prefix P` puts a
 * package, its bin is linked and made executable as npm does, and the installed `meshctl` runs init, validate
 * and render. Offline: the checkout and the installed package borrow this repository's node_modules through a
 * symlink, so neither npm pack nor the run needs a registry.
 */

const repo = resolve(import.meta.dirname, '..', '..', '..');
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
};

/** The files a fresh clone of this working tree would have: tracked and new, minus what .gitignore excludes. */
async function checkoutFiles(): Promise<string[]> {
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: repo,
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout
    .split('\0')
    .filter(Boolean)
    .filter((file) => existsSync(join(repo, file)));
}

const offline = {
  ...process.env,
  npm_config_offline: 'true',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
};

describe('npm pack of a clean checkout installs a working meshctl', function () {
  this.timeout(180_000);
  let tmp: string;
  let bin: string;
  let tarballFiles: string[];

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'meshctl-pack-'));
    const checkout = join(tmp, 'checkout');
    for (const file of await checkoutFiles()) {
      mkdirSync(dirname(join(checkout, file)), { recursive: true });
      copyFileSync(join(repo, file), join(checkout, file));
    }
    assert.equal(existsSync(join(checkout, 'dist')), false, 'the checkout starts without dist/');
    // a developer who ran `meshctl render` on the example inventory has its PKI next to it: it must not ship
    mkdirSync(join(checkout, 'inventory', 'pki'), { recursive: true });
    for (const file of ['ca.crt', 'ca.key', '.gitignore'])
      writeFileSync(join(checkout, 'inventory', 'pki', file), 'not for the package\n');
    symlinkSync(realpathSync(join(repo, 'node_modules')), join(checkout, 'node_modules'));

    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', tmp], {
      cwd: checkout,
      env: offline,
      maxBuffer: 64 * 1024 * 1024,
    });
    // prepack's output (tsc) may come first on stdout: the JSON report is the last thing printed
    const report = JSON.parse(stdout.slice(stdout.indexOf('\n[') + 1)) as {
      filename: string;
      files: { path: string }[];
    }[];
    tarballFiles = report[0]!.files.map((f) => f.path);

    // where `npm install -g --prefix PREFIX` puts a package and its bin
    const prefix = join(tmp, 'prefix');
    const installed = join(prefix, 'lib', 'node_modules', 'meshctl');
    mkdirSync(installed, { recursive: true });
    await run('tar', ['-xzf', join(tmp, report[0]!.filename), '-C', installed, '--strip-components=1']);
    symlinkSync(realpathSync(join(repo, 'node_modules')), join(installed, 'node_modules'));
    mkdirSync(join(prefix, 'bin'));
    bin = join(prefix, 'bin', 'meshctl');
    const target = join(installed, pkg.bin.meshctl!);
    chmodSync(target, 0o755);
    symlinkSync(target, bin);
  });

  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('ships the bundled CLI with its licences, the remote scripts, the roles and the example inventory, and no tests', () => {
    for (const file of [
      pkg.bin.meshctl!,
      'dist/bin/THIRD-PARTY-LICENSES.txt',
      'src/facts/probe.sh',
      'src/facts/fetch-old.sh',
      'src/status/status.sh',
      'roles/openvpn-tunnel/templates/tunnel.conf.liquid',
      'roles/firewall/defaults.yml',
      'inventory/mesh.yml',
      'README.md',
      'CHANGELOG.md',
      'LICENSE',
    ]) {
      assert.ok(tarballFiles.includes(file), `${file} is in the tarball`);
    }
    // the bundle: one chunk per command, loaded when it runs; the unbundled modules stay out
    assert.ok(
      tarballFiles.some((f) => /^dist\/bin\/chunks\/validate-[^/]+\.js$/.test(f)),
      'validate has a chunk of its own',
    );
    assert.deepEqual(
      tarballFiles.filter((f) => f.startsWith('dist/src/')),
      [],
      'the bundled bin ships, not the modules it was bundled from',
    );
    assert.deepEqual(
      tarballFiles.filter((f) => /^(dist\/test|dist\/bench|test\/|node_modules\/)|\.ts$|\.map$/.test(f)),
      [],
      'no tests, TypeScript sources or source maps',
    );
    assert.deepEqual(
      tarballFiles.filter((f) => f.startsWith('inventory/')).sort(),
      [
        'inventory/lans/branch-paris.yml',
        'inventory/lans/cloud-vpc.yml',
        'inventory/lans/datacenter.yml',
        'inventory/lans/head-office.yml',
        'inventory/mesh.yml',
      ],
      'the example inventory, never a PKI made next to it',
    );
  });

  it('runs --version, init, validate and render from the installed bin, offline', async () => {
    const cwd = join(tmp, 'work');
    mkdirSync(cwd);
    const meshctl = (...args: string[]) => run(bin, args, { cwd, env: { ...offline, NO_COLOR: '1' } });

    const version = await meshctl('--version');
    assert.equal(version.stdout.trim(), pkg.version);

    await meshctl('init');
    assert.ok(existsSync(join(cwd, 'inventory', 'mesh.yml')));
    const validate = await meshctl('validate', '--json');
    assert.equal((JSON.parse(validate.stdout) as { ok: boolean }).ok, true);
    const render = await meshctl('render', '--out', 'rendered', '--json');
    const rendered = JSON.parse(render.stdout) as { ok: boolean; gateways: string[] };
    assert.equal(rendered.ok, true);
    assert.ok(rendered.gateways.length > 0);
    for (const gateway of rendered.gateways) {
      assert.ok(existsSync(join(cwd, 'rendered', gateway, 'etc', 'meshctl', 'firewall.sh')), gateway);
    }
  });
});
