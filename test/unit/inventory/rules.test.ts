import assert from 'node:assert/strict';
import { hostProblem } from '../../../src/inventory/hosts.js';
import { suggestName } from '../../../src/inventory/names.js';
import { extraDirectiveProblem } from '../../../src/inventory/openvpn-extra.js';
import { closest, editDistance } from '../../../src/inventory/suggest.js';

describe('inventory rules', () => {
  it('accepts IPv4 addresses and RFC 1123 names as hosts, and nothing else', () => {
    for (const ok of ['203.0.113.10', 'gw1.example.net', 'GW-1.Example.net', 'localhost', 'a'.repeat(63)]) {
      assert.equal(hostProblem(ok), undefined, ok);
    }
    for (const bad of [
      '256.1.1.1',
      '1.2.3',
      'gw_1.example.net',
      '-gw.example.net',
      'gw..example.net',
      'gw.example.net.',
      '2001:db8::1',
      'gw.example.net:1194',
      'a'.repeat(64),
      'gw;reboot',
      'gw example',
      `${'a.'.repeat(127)}ab`,
    ]) {
      assert.ok(hostProblem(bad), bad);
    }
    assert.match(hostProblem('2001:db8::1')!, /IPv6/);
  });

  it('refuses openvpn.extra directives that break identity, keys, layout or scripts, and allows tuning', () => {
    for (const bad of [
      'secret k',
      'tls-remote gw',
      'verify-x509-name x name',
      'tls-crypt k',
      'ca c',
      'cert c',
      'key k',
      'crl-verify c',
      'dev tun0',
      'ifconfig 1 2',
      'remote h',
      'port 1',
      'lport 1',
      'route 10.0.0.0 255.0.0.0',
      'script-security 2',
      'up x',
      'down x',
      'client-connect x',
      'cipher AES-256-CBC',
      'data-ciphers BF-CBC',
      'comp-lzo',
      'compress lz4',
      '--config other.conf',
      'plugin x.so',
      'allow-compression yes',
    ]) {
      assert.ok(extraDirectiveProblem(bad), bad);
    }
    for (const ok of [
      'sndbuf 524288',
      'rcvbuf 524288',
      'verb 4',
      'mssfix 1400',
      'data-ciphers AES-256-GCM:CHACHA20-POLY1305',
      'allow-compression no',
      'tun-mtu 1400',
    ]) {
      assert.equal(extraDirectiveProblem(ok), undefined, ok);
    }
  });

  it('suggests the closest key, tolerating - for _ and transpositions', () => {
    assert.equal(editDistance('prot', 'port'), 1);
    assert.equal(closest('port-base', ['name', 'port_base', 'transit']), 'port_base');
    assert.equal(closest('endpiont', ['endpoint', 'ssh_host', 'ssh']), 'endpoint');
    assert.equal(closest('zzzzzz', ['name', 'transit']), undefined);
  });

  it('suggests a valid name for a bad one', () => {
    assert.equal(suggestName('Branch_Office'), 'branch-office');
    assert.equal(suggestName('corp.example.net'), 'corp-example-net');
    assert.equal(suggestName('...'), 'site-1');
    assert.match(suggestName('x'.repeat(40)), /^[a-z0-9][a-z0-9-]{0,30}$/);
  });
});
