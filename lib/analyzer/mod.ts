/**
 * The DeepGuard security analyzer, token statistics and the saved security components.
 * @module
 */
export {
  AnalyzerError,
  type AnalyzerOptions,
  SECURITY_EMBED_DIM,
  SecurityAnalyzer,
} from "./analyzer.ts";
export { TokenSecurityStats } from "./stats.ts";
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
