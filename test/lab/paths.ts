import { fileURLToPath } from 'node:url';

/**
 * Where the lab keeps things. Located from this module's own URL (compiled to dist/test/lab/), never from a
 * path of one particular machine.
 */

/** The repository root: dist/test/lab/ is three levels below it. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** meshctl's bin (package.json), the bundled CLI, run by Lab.meshctl. */
export { MESHCTL_BIN as MESHCTL_CLI } from '../helpers/bin.js';

/** The installer of the machine's packages (a source file, not compiled). */
export const INSTALL_DEPS_SCRIPT = fileURLToPath(
  new URL('../../../test/lab/install-deps.sh', import.meta.url),
);

/** The example inventory the demo builds its lab from. */
export const EXAMPLE_INVENTORY = fileURLToPath(new URL('../../../inventory/', import.meta.url));

/** Images and the local package folder: kept between runs, keyed by a hash of their recipe. */
export const CACHE_ROOT = process.env.MESHCTL_LAB_CACHE ?? '/var/cache/meshctl-lab';

/**
 * One folder per running lab (state file, keys, inventory). Under /run so a reboot, which removes every
 * namespace, also forgets every lab.
 */
export const LAB_ROOT = process.env.MESHCTL_LAB_ROOT ?? '/run/meshctl-lab';
