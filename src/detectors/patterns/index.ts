import type { Detector } from "../../core/detector.js";
import { CredentialHarvestingDetector } from "./credential-harvesting.js";
import { CrossSessionDetector } from "./cross-session.js";
import { IsolationForestDetector } from "./isolation-forest-detector.js";
import { SlowExfiltrationDetector } from "./slow-exfiltration.js";

export {
  CredentialHarvestingDetector,
  type CredentialHarvestingDetectorOptions,
  credentialSources,
  type SecretScanner,
} from "./credential-harvesting.js";
export { argumentContent, CrossSessionDetector, type CrossSessionDetectorOptions } from "./cross-session.js";
export {
  averagePathLength,
  IsolationForest,
  type IsolationForestJson,
  type IsolationForestOptions,
  SeededRandom,
} from "./isolation-forest.js";
export { IsolationForestDetector, type IsolationForestDetectorOptions } from "./isolation-forest-detector.js";
export {
  collectChunks,
  looksEncoded,
  SlowExfiltrationDetector,
  type SlowExfiltrationDetectorOptions,
} from "./slow-exfiltration.js";

/** The attack-pattern detectors of this folder, fresh instances with default options. */
export function patternDetectors(): Detector[] {
  return [
    new IsolationForestDetector(),
    new CredentialHarvestingDetector(),
    new SlowExfiltrationDetector(),
    new CrossSessionDetector(),
  ];
}
