/**
 * The contract between the runner and stage implementations.
 *
 * A stage type is plain data (ports, a JSON Schema for its parameters) plus one
 * async `run` function. Stage modules must stay cheap to import: anything heavy
 * (tfjs, vega, apache-arrow, ml-*) is loaded with `await import()` inside `run`,
 * so that a no-op re-run of a pipeline never pays for it.
 */

/**
 * Artifact kinds are hierarchical strings. A port expecting `table` accepts
 * `table/spectra`, `table/latent`, …; `any` accepts everything.
 * Kinds starting with `table` are stored as one Arrow IPC file; every other
 * kind is stored as a directory the stage fills as it likes.
 */
export type ArtifactKind = string;

export interface InputPortSpec {
  kind: ArtifactKind;
  /** The port may be left unconnected. */
  optional?: boolean;
  /** The port takes a list of artifacts (e.g. a report fed by many stages). */
  many?: boolean;
  /** In a gathering stage (StageDef.gather): when an upstream stage of some variants failed, the stage
   * still runs with the artifacts that exist (instead of being skipped), and StageContext.missing
   * names what failed. It is skipped as before when no variant has all its inputs. */
  partial?: boolean;
  description?: string;
}

export interface OutputPortSpec {
  kind: ArtifactKind;
  description?: string;
}

/** A JSON Schema object (draft-07 subset understood by ajv). */
export type JsonSchema = Record<string, unknown>;

/** Parameter values after validation, with defaults filled in. */
export type Params = Record<string, unknown>;

export interface InputArtifact {
  /** Absolute path: an `.arrow` file for table kinds, a directory otherwise. */
  path: string;
  kind: ArtifactKind;
  /** Producing stage id and port, for messages. */
  from: string;
  /** Content key of the producing stage. */
  key: string;
  /** Producing stage id. */
  stage?: string;
  /** Sweep variant it belongs to (`default` when unswept) and that variant's swept values. */
  variant?: string;
  axes?: Record<string, unknown>;
  /** In a gathering stage: every variant that used this artifact, with its swept values.
   * An artifact shared by several variants is passed once; `variant` is the first of them. */
  usedBy?: { variant: string; axes: Record<string, unknown> }[];
  /** The producing stage's metrics (reports show them). */
  metrics?: Record<string, MetricValue>;
  /** What the producing stage declares about those metrics (StageDef.metrics). */
  metricInfo?: Record<string, MetricInfo>;
  /** In a gathering stage: the sweep axes that are replicates (a swept `seed`, and the axes the
   * pipeline lists under `replicates:`): results are summarised over them, never plotted along them. */
  replicates?: string[];
}

/** A variant a gathering stage sees only in part, or not at all, because an upstream stage of it failed. */
export interface MissingVariant {
  variant: string;
  /** The variant's swept values. */
  axes: Record<string, unknown>;
  /** The stage that failed (not one skipped because of it). */
  stage: string;
  /** The first line of its error. */
  error: string;
}

export interface ProgressEvent {
  /** 0..1 when known. */
  fraction?: number;
  message?: string;
  epoch?: number;
  epochs?: number;
  loss?: number;
  val_loss?: number;
}

export type MetricValue = number | string | boolean | null | MetricValue[] | { [k: string]: MetricValue };

/** What a stage says about one of its metrics: which way is better (reports mark the best
 * variant by it; a metric without a direction — k, n, a count — is shown but never ranked). */
export interface MetricInfo {
  better?: 'lower' | 'higher';
  description?: string;
}

/** Metrics that measure the machine, not the science: run records keep them, artifacts must not
 * (two identical runs would otherwise give different bytes). */
export function isTimingMetric(name: string): boolean {
  return name === 'seconds' || /(^|_)seconds(_|$)/.test(name);
}

export interface StageContext {
  /** Stage id in the pipeline (for messages only; never affects results). */
  id: string;
  params: Params;
  /** The pipeline seed (or the variant's swept seed). Derive sub-streams from it. */
  seed: number;
  inputs: Record<string, InputArtifact | InputArtifact[] | undefined>;
  /** A gathering stage run with some variants' inputs missing (InputPortSpec.partial): what failed, in
   * the sweep's order. Part of the content key: the same failure again reuses the result. */
  missing?: MissingVariant[];
  /**
   * Where to write an output port. Table kinds: a file path ending in `.arrow`
   * (write the file there). Other kinds: an existing, empty directory.
   * Everything lives in a temporary entry that is renamed into the store only
   * after `run` resolves, so a crash never publishes a partial artifact.
   */
  output(port: string): string;
  progress(event: ProgressEvent): void;
  /** Metrics are stored with the artifact, shown in run records and `--json`. */
  metric(name: string, value: MetricValue): void;
  log(message: string): void;
  signal: AbortSignal;
  /** Folder of the pipeline file, for resolving relative paths stages compute themselves. */
  pipelineDir: string;
}

/** Compute resources of one stage run. `memory` as SLURM writes it (`500M`, `4G`),
 * `time` as `minutes`, `H:MM:SS` or `D-HH:MM:SS`. */
export interface StageResources {
  cpus?: number;
  memory?: string;
  time?: string;
}

export interface StageDef {
  type: string;
  description: string;
  inputs: Record<string, InputPortSpec>;
  outputs: Record<string, OutputPortSpec>;
  /** JSON Schema of `with:`: `{type: 'object', properties: {...}, required?: [...]}`.
   * Every property should have a `description` and, where sensible, a `default`.
   * A string property with `"x-path": true` is a file path (or glob): it is resolved
   * against the pipeline's folder and the file contents enter the content key.
   * A top-level `"x-aliases": { alias: name }` accepts other names for parameters;
   * an alias is renamed before validation, so both spellings give the same key. */
  params: JsonSchema;
  /** Run in a worker thread (CPU-heavy stages) so independent branches use several cores. */
  cpu?: boolean;
  /** In a swept pipeline, run once for the whole sweep: every input port receives the
   * artifacts of all variants (each tagged with its variant), e.g. a comparison report.
   * Nothing may depend on a gathering stage. */
  gather?: boolean;
  /** Which way is better for each metric it reports (`better: 'lower'` for losses and errors,
   * `'higher'` for agreement scores); comparison reports mark the best variant by it. */
  metrics?: Record<string, MetricInfo>;
  /** Results do not depend on the seed: leave it out of the content key. */
  seedless?: boolean;
  /** Its output shows stage ids — its own and its inputs' (a report's title, captions and
   * tables): they enter its content key, so renaming a stage never serves a result that
   * names the old one. Other stages are keyed by content only, names left out. */
  named?: boolean;
  /** What one run of the stage needs on a batch cluster (SLURM's --cpus-per-task, --mem,
   * --time); a pipeline overrides them per stage under `resources:`. Never in the key. */
  resources?: StageResources;
  /** Settles parameters whose value depends on this machine or its environment (e.g. a thread
   * count `auto`) into the values a run will use. Called when the pipeline is planned, so the content
   * key names what runs and `status --explain` names a change; the stage's `run` sees the settled
   * values. Must be cheap (no heavy imports); throws an Error whose message is one line for an
   * environment it cannot accept. */
  settle?(params: Params): Params;
  /** Cores one run with these (settled) parameters keeps busy, when more than one: the local executor
   * charges that many of its `--jobs` slots, batch executors ask for at least that many CPUs. */
  cores?(params: Params): number;
  /** npm packages whose versions enter the implementation fingerprint. */
  packages?: string[];
  /** Results depend on the numeric engine (tfjs backend, wasm kernels): the engine's identity
   * enters the content key. Default: true when `packages` names a `@tensorflow/` package. */
  numeric?: boolean;
  /** Extra files (relative to `module`'s folder) whose contents enter the implementation
   * fingerprint: helpers loaded by a computed `import()` or data read at run time. */
  files?: string[];
  /** `import.meta.url` of the defining module: its source (and relative imports) is fingerprinted. */
  module: string;
  run(ctx: StageContext): Promise<void>;
  /** Checks of parameter combinations JSON Schema cannot express (e.g. heads must divide d_model),
   * run at validation so they are reported at the offending key before anything runs.
   * `inputs` says what is known of each input port's artifact before running (its channel count,
   * when the upstream stage can tell from its parameters). */
  check?(params: Params, inputs: InputShapes): ParamProblem[];
  /** Channel count of the spectra this stage will output, when its parameters (and inputs) fix it. */
  channels?(params: Params, inputs: InputShapes): number | undefined;
}

/** What validation knows of an input before running; absent fields are unknown. */
export type InputShapes = Record<string, { channels?: number } | undefined>;

/** A problem found by `StageDef.check`: `path` inside `with:` (e.g. ['heads']). */
export interface ParamProblem {
  path: (string | number)[];
  message: string;
}

/** Thrown by a stage for a user error (bad input data, bad parameter combination).
 * The runner prints `message` without a stack trace. `where` is e.g. `data.csv row 41`. */
export class StageError extends Error {
  constructor(message: string, public readonly where?: string) {
    super(where ? `${where}: ${message}` : message);
    this.name = 'StageError';
  }
}

export function isTableKind(kind: ArtifactKind): boolean {
  return kind === 'table' || kind.startsWith('table/');
}

/** Does an artifact of kind `produced` fit a port expecting `expected`? */
export function kindAccepts(expected: ArtifactKind, produced: ArtifactKind): boolean {
  return expected === 'any' || produced === expected || produced.startsWith(expected + '/');
}

/** `table/spectra` → `spectra table`, `model/autoencoder` → `autoencoder model`. */
export function describeKind(kind: ArtifactKind): string {
  const parts = kind.split('/');
  return parts.length === 1 ? parts[0]! : `${parts.slice(1).join(' ')} ${parts[0]}`;
}
