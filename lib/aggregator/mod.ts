/**
 * Multi-layer aggregation of decoder hidden states (DeepGuard).
 * @module
 */
export {
  type Aggregation,
  AggregationError,
  AGGREGATIONS,
  type AggregatorInit,
  type AggregatorOptions,
  MultiLayerAggregator,
  parseAggregation,
  xavierLinear,
} from "./aggregator.ts";
