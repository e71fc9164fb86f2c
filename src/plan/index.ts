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
export type * from './types.js';
