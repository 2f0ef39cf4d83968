/**
 * The DeepGuard security analyzer and the token security statistics (saved together with the
 * aggregator as `lib/deepguard`'s security components).
 * @module
 */
export {
  AnalyzerError,
  type AnalyzerOptions,
  SECURITY_EMBED_DIM,
  SecurityAnalyzer,
} from "./analyzer.ts";
export { TokenSecurityStats } from "./stats.ts";
