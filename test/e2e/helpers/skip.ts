import { prerequisiteProblems } from '../../lab/prerequisites.js';

/**
 * Skips a lab-backed suite LOUDLY when this machine cannot run the lab (not root, no usable systemd-nspawn): the
 * banner lists every test that did not run, and they count as skipped, never as passed.
 */
export function skipUnlessLabUsable(ctx: Mocha.Context, file?: string): void {
  const problems = prerequisiteProblems();
  if (problems.length === 0) return;
  const bar = '!'.repeat(100);
  const suite = ctx.currentTest?.parent ?? ctx.test?.parent;
  const titles = suite?.tests.map((t) => `!!   - ${t.title}`) ?? [];
  console.warn(
    `\n${bar}\n!! SKIPPED: ${suite?.title ?? 'lab-backed tests'}\n` +
      problems.map((p) => `!!   ${p}`).join('\n') +
      `\n!! These ${titles.length} test(s) did NOT run and prove nothing:\n${titles.join('\n')}\n` +
      `!! Run them as root${file ? `: sudo npx mocha '${file}'` : ''}\n${bar}\n`,
  );
  ctx.skip();
}
