import { readPackageScript } from './script.js';

/** The probe script (probe.sh), read once at module load. */
export const PROBE_SCRIPT = readPackageScript('src/facts/probe.sh');

/** `$0` of the probe's shell: what `ps` shows on the gateway while it runs. */
const PROBE_NAME = 'meshctl-probe';

/**
 * The ONE read-only command that gathers a gateway's facts. Paths travel as positional arguments (quoted by the
 * connection's `quote`), never spliced into the script text. The caller runs it privileged: it checksums
 * root-only keys and reads iptables.
 */
export function probeCommand(paths: string[]): string[] {
  for (const path of paths) {
    if (!path.startsWith('/') || /[\t\n\r]/.test(path)) {
      throw new Error(
        `probeCommand: path ${JSON.stringify(path)} must be absolute and free of TAB and newline characters ` +
          '(the probe reports one path per line): fix the renderer that produced it',
      );
    }
  }
  return ['sh', '-c', PROBE_SCRIPT, PROBE_NAME, ...paths];
}
