export { actionSubject, actionSymbol, describeAction, summarize, summaryLine } from './actions.js';
export { HostPlanError, type HostPlanErrorKind } from './errors.js';
export {
  type FormatOptions,
  type FormatPlansOptions,
  formatHostPlan,
  formatPlans,
  plansToJson,
  planToJson,
  SECRET_PLACEHOLDER,
} from './format.js';
export { type PlanOptions, planHosts } from './plan.js';
export {
  checkPreflight,
  MAX_CLOCK_SKEW_SECONDS,
  type PreflightFinding,
  type PreflightOptions,
  preflightFindings,
  topologyNeedsAsymmetricPaths,
} from './preflight.js';
export type * from './types.js';
