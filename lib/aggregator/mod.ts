/**
 * Multi-layer aggregation of decoder hidden states (DeepGuard).
 * @module
 */
export {
  type Aggregation,
  AggregationError,
  AGGREGATIONS,
  MultiLayerAggregator,
  parseAggregation,
  xavierLinear,
} from "./aggregator.ts";
