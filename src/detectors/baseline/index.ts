import type { Detector } from "../../core/detector.js";
import { ARGUMENT_DETECTOR, ArgumentDetector, describeArgumentBaseline } from "./argument-model.js";
import type { ArgumentProvenance } from "./argument-values.js";
import { describeResourceBaseline, RESOURCE_DETECTOR, ResourceDetector } from "./resource-model.js";
import {
  describeSequenceBaseline,
  SEQUENCE_DETECTOR,
  SequenceDetector,
  type SequenceDetectorOptions,
} from "./sequence-model.js";
import { describeTemporalBaseline, TEMPORAL_DETECTOR, TemporalDetector } from "./temporal-model.js";

export {
  ARGUMENT_DETECTOR,
  type ArgumentBaselineState,
  ArgumentDetector,
  type ArgumentDetectorOptions,
  argumentBaselineSchema,
  describeArgumentBaseline,
} from "./argument-model.js";
export type { ArgumentProvenance } from "./argument-values.js";
export {
  describeResourceBaseline,
  RESOURCE_DETECTOR,
  type ResourceBaselineState,
  ResourceDetector,
  type ResourceDetectorOptions,
  resourceBaselineSchema,
} from "./resource-model.js";
export {
  describeSequenceBaseline,
  SEQUENCE_DETECTOR,
  type SequenceBaselineState,
  SequenceDetector,
  type SequenceDetectorOptions,
  sequenceBaselineSchema,
} from "./sequence-model.js";
export {
  describeTemporalBaseline,
  TEMPORAL_DETECTOR,
  type TemporalBaselineState,
  TemporalDetector,
  temporalBaselineSchema,
} from "./temporal-model.js";

/** Options of {@link baselineDetectors}. */
export interface BaselineDetectorsOptions {
  sequence?: SequenceDetectorOptions;
  /** Where argument values came from (`ArgumentDetectorOptions.provenance`, `ResourceDetectorOptions.provenance`). */
  provenance?: ArgumentProvenance;
}

/** The four learned-baseline detectors (sequences, arguments, timing, resources): fresh instances. */
export function baselineDetectors(options: BaselineDetectorsOptions = {}): Detector[] {
  const provenance = options.provenance === undefined ? {} : { provenance: options.provenance };
  return [
    new SequenceDetector(options.sequence),
    new ArgumentDetector(provenance),
    new TemporalDetector(),
    new ResourceDetector(provenance),
  ];
}

const DESCRIBERS: Record<string, (state: unknown) => string[] | null> = {
  [SEQUENCE_DETECTOR]: describeSequenceBaseline,
  [ARGUMENT_DETECTOR]: describeArgumentBaseline,
  [TEMPORAL_DETECTOR]: describeTemporalBaseline,
  [RESOURCE_DETECTOR]: describeResourceBaseline,
};

/** Readable lines about a baseline detector's saved state; `null` for other detectors or a state that does not parse. */
export function describeBaselineState(detector: string, state: unknown): string[] | null {
  return DESCRIBERS[detector]?.(state) ?? null;
}
