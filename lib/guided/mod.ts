/**
 * Security-guided decoding: a logits processor steering generation with the token security
 * statistics and the analyzer's view of the prompt.
 * @module
 */
export {
  guidanceBias,
  type GuidanceOptions,
  guidanceStrength,
  normalizeStats,
  securityLogitsProcessor,
} from "./guided.ts";
