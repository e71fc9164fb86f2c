import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ssh2, { type ParsedKey } from 'ssh2';
import {
  appendKnownHost,
  fingerprint,
  hostKeyAlgorithmsFor,
  keyTypeOfBlob,
  lookupHost,
  parseKnownHosts,
  verifyHostKey,
} from '../../../src/connection/known-hosts.js';

// ssh2 is CommonJS: its named exports are reached through the default import.
const { utils } = ssh2;

const run = promisify(execFile);

interface PublicKey {
  type: string;
  blob: Buffer;
  /** `type base64`, as in known_hosts. */
  text: string;
}

function publicKey(type: 'ed25519' | 'ecdsa' | 'rsa'): PublicKey {
  // ssh2 now and then cannot parse a key it just generated (parseKey returns an Error): take another key
  for (let attempt = 1; ; attempt++) {
    const pair =
      type === 'ecdsa'
        ? utils.generateKeyPairSync('ecdsa', { bits: 256 })
        : type === 'rsa'
          ? utils.generateKeyPairSync('rsa', { bits: 2048 })
          : utils.generateKeyPairSync('ed25519');
    const parsed = utils.parseKey(pair.public);
    if (parsed instanceof Error || Array.isArray(parsed)) {
      if (attempt < 10) continue;
      throw new Error(`ssh2 could not parse a generated ${type} key ten times: ${String(parsed)}`);
    }
    const key = parsed as ParsedKey;
    const blob = key.getPublicSSH();
    return { type: key.type, blob, text: `${key.type} ${blob.toString('base64')}` };
  }
}

const ed = publicKey('ed25519');
const ed2 = publicKey('ed25519');
const ecdsa = publicKey('ecdsa');
const rsa = publicKey('rsa');

describe('connection/known-hosts', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshctl-known-hosts-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('parseKnownHosts', () => {
    it('skips comments, blank and malformed lines and keeps 1-based line numbers', () => {
      const text = [
        '# a comment',
        '',
        `gw1 ${ed.text} root@gw1`,
        '   ',
        'gw2 ssh-ed25519 not-base64!',
        `gw3 ssh-rsa ${ed.blob.toString('base64')}`, // blob says ed25519: rejected
        'gw4 1024 65537 12345', // SSH-1 RSA
        `@unknown-marker gw5 ${ed.text}`,
        `\t@revoked * ${ed2.text}`,
        `@cert-authority *.corp ${ecdsa.text}`,
      ].join('\n');
      const entries = parseKnownHosts(text);
      assert.deepEqual(
        entries.map((entry) => [entry.line, entry.marker, entry.hosts, entry.keyType]),
        [
          [3, undefined, 'gw1', 'ssh-ed25519'],
          [9, 'revoked', '*', 'ssh-ed25519'],
          [10, 'cert-authority', '*.corp', 'ecdsa-sha2-nistp256'],
        ],
      );
      assert.ok(entries[0]?.keyBlob.equals(ed.blob));
    });

    it('reads CRLF files', () => {
      assert.equal(lookupHost(`# x\r\ngw1 ${ed.text}\r\n`, 'gw1', 22)[0]?.line, 2);
    });
  });

  describe('lookupHost', () => {
    it('matches plain host lists, case-insensitively, on port 22 only', () => {
      const text = `GW1.Example,10.1.0.5 ${ed.text}\n`;
      assert.equal(lookupHost(text, 'gw1.example', 22).length, 1);
      assert.equal(lookupHost(text, '10.1.0.5', 22).length, 1);
      assert.equal(lookupHost(text, '10.1.0.5', 2222).length, 0);
      assert.equal(lookupHost(text, '10.1.0.50', 22).length, 0);
    });

    it('matches [host]:port entries for that port only', () => {
      const text = `[10.1.0.5]:2222 ${ed.text}\n`;
      assert.equal(lookupHost(text, '10.1.0.5', 2222).length, 1);
      assert.equal(lookupHost(text, '10.1.0.5', 22).length, 0);
      assert.equal(lookupHost(text, '10.1.0.5', 222).length, 0);
    });

    it('honours * and ? wildcards and ! negation', () => {
      const text = [
        `*.corp.example,!bad.corp.example ${ed.text}`,
        `10.1.0.? ${ecdsa.text}`,
        `[10.2.*]:* ${rsa.text}`,
      ].join('\n');
      assert.equal(lookupHost(text, 'gw.corp.example', 22)[0]?.line, 1);
      assert.equal(lookupHost(text, 'bad.corp.example', 22).length, 0);
      assert.equal(lookupHost(text, 'corp.example', 22).length, 0);
      assert.equal(lookupHost(text, '10.1.0.7', 22)[0]?.line, 2);
      assert.equal(lookupHost(text, '10.1.0.17', 22).length, 0);
      assert.equal(lookupHost(text, '10.2.3.4', 2200)[0]?.line, 3);
      // A pattern is matched literally apart from * and ?: the dots are not regex wildcards.
      assert.equal(lookupHost(`10.1.0.5 ${ed.text}`, '10x1x0x5', 22).length, 0);
    });

    it('matches hashed entries written by ssh-keygen -H (port 22 and [host]:port)', async () => {
      const file = join(dir, 'known_hosts');
      await writeFile(file, `gw1.example ${ed.text}\n[10.1.0.5]:2222 ${ecdsa.text}\n`);
      await run('ssh-keygen', ['-H', '-f', file]);
      const text = await readFile(file, 'utf8');
      assert.ok(
        text
          .trim()
          .split('\n')
          .every((line) => line.startsWith('|1|')),
        'ssh-keygen hashed every line',
      );
      assert.equal(text.includes('gw1.example'), false);
      assert.ok(lookupHost(text, 'gw1.example', 22)[0]?.keyBlob.equals(ed.blob));
      assert.ok(lookupHost(text, '10.1.0.5', 2222)[0]?.keyBlob.equals(ecdsa.blob));
      assert.equal(lookupHost(text, '10.1.0.5', 22).length, 0);
      assert.equal(lookupHost(text, 'gw2.example', 22).length, 0);
    });
  });

  describe('verifyHostKey', () => {
    it('matches the recorded key and reports a different key of the same type as changed', () => {
      const entries = lookupHost(`gw1 ${ed.text}\n`, 'gw1', 22);
      assert.equal(verifyHostKey(entries, ed.type, ed.blob), 'match');
      assert.equal(verifyHostKey(entries, ed2.type, ed2.blob), 'changed');
      assert.equal(verifyHostKey([], ed.type, ed.blob), 'unknown');
    });

    it('accepts any of several recorded keys of different types', () => {
      const entries = lookupHost(`gw1 ${ed.text}\ngw1 ${ecdsa.text}\ngw1 ${rsa.text}\n`, 'gw1', 22);
      assert.equal(verifyHostKey(entries, ed.type, ed.blob), 'match');
      assert.equal(verifyHostKey(entries, ecdsa.type, ecdsa.blob), 'match');
      assert.equal(verifyHostKey(entries, rsa.type, rsa.blob), 'match');
      assert.equal(verifyHostKey(entries, ed2.type, ed2.blob), 'changed');
    });

    it('treats a key of a type never recorded for a known host as changed', () => {
      const entries = lookupHost(`gw1 ${ed.text}\n`, 'gw1', 22);
      assert.equal(verifyHostKey(entries, ecdsa.type, ecdsa.blob), 'changed');
    });

    it('refuses a revoked key even when a plain line also lists it', () => {
      const entries = lookupHost(`gw1 ${ed.text}\n@revoked * ${ed.text}\n`, 'gw1', 22);
      assert.equal(verifyHostKey(entries, ed.type, ed.blob), 'revoked');
      assert.equal(
        verifyHostKey(lookupHost(`@revoked * ${ed.text}\n`, 'gw9', 22), ed.type, ed.blob),
        'revoked',
      );
      // Revoking one key does not make the host known.
      assert.equal(
        verifyHostKey(lookupHost(`@revoked * ${ed.text}\n`, 'gw9', 22), ed2.type, ed2.blob),
        'unknown',
      );
    });

    it('ignores @cert-authority lines (host certificates are not supported)', () => {
      const entries = lookupHost(`@cert-authority *.corp ${ed.text}\n`, 'gw.corp', 22);
      assert.equal(entries.length, 1);
      assert.equal(entries[0]?.marker, 'cert-authority');
      assert.equal(verifyHostKey(entries, ed.type, ed.blob), 'unknown');
    });
  });

  describe('fingerprints and algorithms', () => {
    it('prints fingerprints exactly as ssh-keygen -l does', async () => {
      const file = join(dir, 'key.pub');
      for (const key of [ed, ecdsa, rsa]) {
        await writeFile(file, `${key.text}\n`);
        const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', file]);
        assert.equal(stdout.split(' ')[1], fingerprint(key.blob));
        assert.equal(keyTypeOfBlob(key.blob), key.type);
      }
    });

    it('offers the recorded key types first, then the defaults, never SHA-1 ssh-rsa', () => {
      const entries = lookupHost(`gw1 ${rsa.text}\ngw1 ${ecdsa.text}\n`, 'gw1', 22);
      const algorithms = hostKeyAlgorithmsFor(entries);
      assert.deepEqual(algorithms.slice(0, 3), ['rsa-sha2-512', 'rsa-sha2-256', 'ecdsa-sha2-nistp256']);
      assert.ok(algorithms.includes('ssh-ed25519'));
      assert.equal(algorithms.includes('ssh-rsa'), false);
      assert.equal(new Set(algorithms).size, algorithms.length);
      assert.equal(hostKeyAlgorithmsFor([])[0], 'ssh-ed25519');
    });
  });

  describe('appendKnownHost', () => {
    it('creates the directory 0700 and the file 0600, in a format ssh-keygen -F finds', async () => {
      const file = join(dir, 'ssh', 'known_hosts');
      assert.equal(await appendKnownHost(file, '127.0.0.1', 2222, ed.type, ed.blob), true);
      assert.equal((await stat(join(dir, 'ssh'))).mode & 0o777, 0o700);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.equal(await readFile(file, 'utf8'), `[127.0.0.1]:2222 ${ed.text}\n`);
      const { stdout } = await run('ssh-keygen', ['-F', '[127.0.0.1]:2222', '-f', file]);
      assert.match(stdout, /Host \[127\.0\.0\.1\]:2222 found: line 1/);
    });

    it('never duplicates an entry, even for concurrent appends', async () => {
      const file = join(dir, 'known_hosts');
      const results = await Promise.all(
        Array.from({ length: 6 }, () => appendKnownHost(file, 'gw1', 22, ed.type, ed.blob)),
      );
      assert.deepEqual(
        results.filter((appended) => appended),
        [true],
      );
      assert.equal(await appendKnownHost(file, 'GW1', 22, ed.type, ed.blob), false);
      assert.equal(await readFile(file, 'utf8'), `gw1 ${ed.text}\n`);
    });

    it('serialises appends of different hosts and keeps earlier content intact', async () => {
      const file = join(dir, 'known_hosts');
      await writeFile(file, `# mine\nother ${rsa.text}`, { mode: 0o600 }); // no trailing newline
      await Promise.all([
        appendKnownHost(file, 'gw1', 22, ed.type, ed.blob),
        appendKnownHost(file, 'gw2', 2200, ecdsa.type, ecdsa.blob),
      ]);
      const lines = (await readFile(file, 'utf8')).split('\n');
      assert.deepEqual(lines.slice(0, 2), ['# mine', `other ${rsa.text}`]);
      assert.deepEqual(lines.slice(2).sort(), ['', `[gw2]:2200 ${ecdsa.text}`, `gw1 ${ed.text}`].sort());
    });

    it('refuses to record a key the file says is changed', async () => {
      const file = join(dir, 'known_hosts');
      await writeFile(file, `gw1 ${ed.text}\n`);
      await assert.rejects(
        appendKnownHost(file, 'gw1', 22, ed2.type, ed2.blob),
        /refusing to record.*changed/,
      );
      assert.equal(await readFile(file, 'utf8'), `gw1 ${ed.text}\n`);
    });
  });
});
