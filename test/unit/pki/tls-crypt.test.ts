import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensurePki } from '../../../src/pki/index.js';
import { generateTlsCryptKey, tlsCryptKeyProblem } from '../../../src/pki/tls-crypt.js';
import { run, tempRoot } from './helpers.js';

/** The line structure of a static key file: comments and markers verbatim, hex lines as their shape. */
function structure(text: string): string[] {
  return text.split('\n').map((line) => (/^[0-9a-f]{32}$/.test(line) ? 'HEX32' : line));
}

describe('pki: tls-crypt keys', function () {
  this.timeout(20_000);
  let root: string;
  let pki: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ root, pki, cleanup } = await tempRoot());
  });
  afterEach(() => cleanup());

  it('have exactly the structure `openvpn --genkey tls-crypt` writes', async () => {
    const reference = join(root, 'reference.key');
    const genkey = run('openvpn', ['--genkey', 'tls-crypt', reference]);
    assert.equal(genkey.status, 0, genkey.out);
    const { material } = await ensurePki({ dir: pki, mesh: 'corp', lans: [], pairs: [1, 7] });
    const ours = material.tlsCrypt.get(7)!;
    assert.deepEqual(structure(ours), structure(await readFile(reference, 'utf8')));
    assert.equal(structure(ours).filter((line) => line === 'HEX32').length, 16);
    assert.notEqual(material.tlsCrypt.get(1), ours, 'each pair has its own key');
  });

  it('are loaded by real OpenVPN (its crypto self-test reads the same static key format)', async () => {
    await ensurePki({ dir: pki, mesh: 'corp', lans: [], pairs: [3] });
    const key = join(pki, 'tls-crypt/pair-3.key');
    const args = ['--test-crypto', '--secret', key, '--cipher', 'AES-256-CBC', '--verb', '1'];
    const result = run('openvpn', args);
    assert.match(result.out, /self-test mode SUCCEEDED/, result.out);
    // The same self-test refuses a damaged key, so the check above can fail.
    const damaged = join(root, 'damaged.key');
    await writeFile(damaged, (await readFile(key, 'utf8')).replace(/\n[0-9a-f]{32}\n/, '\n'), {
      mode: 0o600,
    });
    assert.doesNotMatch(
      run('openvpn', ['--test-crypto', '--secret', damaged, '--verb', '1']).out,
      /SUCCEEDED/,
    );
  });

  it('are checked before reuse; the problem never quotes the key', () => {
    const key = generateTlsCryptKey();
    assert.equal(tlsCryptKeyProblem(key), undefined);
    const reference = key.replace(/^#.*\n/gm, '');
    assert.equal(tlsCryptKeyProblem(reference), undefined, 'comment lines are optional');
    const short = key.replace(/\n[0-9a-f]{32}\n/, '\n');
    assert.match(tlsCryptKeyProblem(short)!, /exactly 16 lines of 32 hex digits/);
    assert.match(
      tlsCryptKeyProblem(key.replace('BEGIN', 'BEGAN'))!,
      /no "-----BEGIN OpenVPN Static key V1-----"/,
    );
    assert.match(tlsCryptKeyProblem(key.replace(/-----END.*\n/, ''))!, /does not end with/);
    assert.match(tlsCryptKeyProblem(`junk\n${key}`)!, /text before the key header/);
    const line = /\n([0-9a-f]{32})\n/.exec(key)![1]!;
    assert.ok(!tlsCryptKeyProblem(short)!.includes(line));
  });

  it('the text as written is recognised at once; every other accepted form still goes through the full check', () => {
    const key = generateTlsCryptKey();
    const body = key.indexOf('-----BEGIN');
    const hexStart = key.indexOf('\n', body) + 1;
    const hexEnd = key.indexOf('-----END');
    for (let at = hexStart; at < hexEnd; at++) {
      const char = key[at]!;
      if (char === '\n') continue;
      // a non-hex digit, a missing digit, an extra digit: refused wherever it is
      for (const changed of [
        `${key.slice(0, at)}g${key.slice(at + 1)}`,
        `${key.slice(0, at)}${key.slice(at + 1)}`,
        `${key.slice(0, at)}0${key.slice(at)}`,
      ]) {
        assert.match(tlsCryptKeyProblem(changed) ?? 'accepted', /exactly 16 lines/, `position ${at}`);
      }
    }
    // forms OpenVPN reads that are not the one written: accepted, by the full check
    for (const [what, variant] of [
      [
        'uppercase hex',
        key.slice(0, hexStart) + key.slice(hexStart, hexEnd).toUpperCase() + key.slice(hexEnd),
      ],
      ['CRLF line ends', key.replaceAll('\n', '\r\n')],
      ['no final newline', key.slice(0, -1)],
      ['blank lines after the footer', `${key}\n\n`],
      ['another comment', `# pair 7\n${key}`],
      ['no comment', key.slice(body)],
    ] as const) {
      assert.equal(tlsCryptKeyProblem(variant), undefined, what);
    }
    assert.match(tlsCryptKeyProblem(key.replace('\n#\n', '\nx\n'))!, /text before the key header/);
    assert.match(tlsCryptKeyProblem(`${key}junk\n`)!, /does not end with/);
  });
});
