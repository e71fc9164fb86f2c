import type { Facts, UnitFact } from '../facts/types.js';

/** A unit's probed state; undefined when the probe could not ask systemd. */
export function unitState(facts: Facts, unit: string): UnitFact | undefined {
  return facts.units[unit];
}

/**
 * Running for planning purposes. `activating (auto-restart)` is a service that crashed and waits to be retried:
 * not running. A unit that is starting or reloading counts as running.
 */
export function isRunning(fact: UnitFact): boolean {
  if (fact.active === 'active' || fact.active === 'reloading') return true;
  return fact.active === 'activating' && fact.sub !== 'auto-restart';
}

/** Started at boot. `enabled-runtime` is lost at the next reboot, so it does not count. */
export function isEnabled(fact: UnitFact | undefined): boolean {
  return fact?.enabled === 'enabled';
}
