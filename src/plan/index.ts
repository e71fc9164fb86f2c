export { actionSubject, actionSymbol, describeAction, summarize, summaryLine } from './actions.js';
export { HostPlanError, type HostPlanErrorKind } from './errors.js';
export {
  FETCH_OLD_SCRIPT,
  type FormatOptions,
  type FormatPlansOptions,
  fetchOldContentsCommand,
  formatHostPlan,
  formatPlans,
  parseOldContents,
  pathsToFetch,
  plansToJson,
  planToJson,
  SECRET_PLACEHOLDER,
} from './format.js';
export { type PlanOptions, planMesh } from './plan.js';
export type * from './types.js';
