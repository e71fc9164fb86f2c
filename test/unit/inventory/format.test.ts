import assert from 'node:assert/strict';
import { diagnosticsToJson, formatDiagnostic } from '../../../src/inventory/format.js';
import type { Diagnostic } from '../../../src/types.js';

const hostBits: Diagnostic = {
  severity: 'error',
  file: 'inventory/lans/branch.yml',
  line: 4,
  field: 'subnets[0]',
  value: '10.2.0.1/16',
  message: '"10.2.0.1/16" has host bits set',
  fix: 'use 10.2.0.0/16',
};

describe('formatDiagnostic', () => {
  it('prints one compiler-style line: file:line: field: message — fix', () => {
    assert.equal(
      formatDiagnostic(hostBits),
      'inventory/lans/branch.yml:4: subnets[0]: "10.2.0.1/16" has host bits set — use 10.2.0.0/16',
    );
  });

  it('prefixes warnings and omits an unknown line and an empty field', () => {
    const warning: Diagnostic = {
      severity: 'warning',
      file: 'inventory/mesh.yml',
      field: '',
      message: 'm',
      fix: 'f',
    };
    assert.equal(formatDiagnostic(warning), 'inventory/mesh.yml: warning: m — f');
  });

  it('adds ANSI colour only when asked', () => {
    const ansiEscape = String.fromCharCode(27);
    assert.ok(!formatDiagnostic(hostBits, { color: false }).includes(ansiEscape));
    assert.ok(formatDiagnostic(hostBits, { color: true }).includes(ansiEscape));
  });
});

describe('diagnosticsToJson', () => {
  it('gives every field, with line null when unknown and value only when present', () => {
    const json = diagnosticsToJson([
      hostBits,
      { severity: 'error', file: 'inventory/mesh.yml', field: 'name', message: 'm', fix: 'f' },
    ]);
    assert.deepEqual(json, [
      { ...hostBits },
      { severity: 'error', file: 'inventory/mesh.yml', line: null, field: 'name', message: 'm', fix: 'f' },
    ]);
    assert.doesNotThrow(() => JSON.stringify(json));
  });
});
