/**
 * The DeepGuard model at inference: the security components (aggregator, analyzer, token
 * statistics) with their create/load/save, per-token security scores, and security-guided
 * decoding as a logits processor. Generation and serving build on this; training (`lib/train`)
 * is a client of it, never the other way round.
 * @module
 */
export {
  baseConfigHash,
  type DeepGuardLoadOptions,
  DeepGuardModel,
  type DeepGuardOptions,
  missingDeepGuardFiles,
  SecurityModelError,
  type TokenBatch,
  type TokenScore,
} from "./model.ts";
export {
  type BaseModelSizes,
  COMPONENTS_FILE,
  ComponentsError,
  type ComponentsOptions,
  type ComponentsShape,
  readSecurityConfig,
  SECURITY_CONFIG_FILE,
  SecurityComponents,
  type SecurityConfig,
} from "./components.ts";
export {
  guidanceBias,
  type GuidanceOptions,
  guidanceStrength,
  normalizeStats,
  type SecurityLogitsProcessor,
  securityLogitsProcessor,
} from "./guided.ts";
