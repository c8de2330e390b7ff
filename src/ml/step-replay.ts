/**
 * A training step's kernel calls recorded once per input shape and replayed.
 *
 * Every tfjs op of a step (forward, the tape's backward pass, saved-tensor
 * clones, gradient sums) costs ~40–50 µs of engine JavaScript inside training
 * (Tensor objects, scopes, the tape, gradient closures) besides its kernel.
 * A step whose ops depend only on the shapes of its inputs calls the same
 * kernels, with the same attributes, on the same inputs, in the same order
 * every time; so its kernel calls are recorded while the engine runs it, and
 * later steps call the registered kernel functions directly on the recorded
 * data flow — the same kernels on the same values in the same order, hence
 * the same bits.
 *
 * What a recording holds: each kernel call (its registered function, input
 * names, attributes) with its inputs and outputs as values; a value is a step
 * input (by position), a tensor that existed before the step (a variable or a
 * model's constant, looked up through that tensor at each replay, as an
 * optimizer may give a variable new memory), a constant the step uploaded
 * (kept alive with the recording), or a kernel's output (freed after its last
 * use). A step is recorded twice before it is replayed, and replayed only if
 * both recordings agree in every call, attribute and uploaded value: a step
 * whose uploads differ (random draws) or whose calls differ is never
 * replayed. Nor is one that reads data back (or touches tensor memory outside a
 * kernel), calls a kernel not known to be a
 * pure function of its inputs and attributes, or ends with a step tensor
 * disposed: it runs through the engine as before.
 *
 * Knows nothing of models: the caller names what the step's shape depends on
 * (`key`) and returns the step's output tensors.
 */
import type { Tensor } from '@tensorflow/tfjs';
import type { BackendWasm, TensorInfo, TF } from './kernels/common.js';
import { FIXED_KERNELS } from './kernels/index.js';

type DataId = object;
type KernelFunc = (args: { inputs: Record<string, TensorInfo> | TensorInfo[]; attrs: object; backend: BackendWasm }) => TensorInfo | TensorInfo[];
interface RegisteredKernel {
  kernelName: string;
  backendName: string;
  kernelFunc: KernelFunc;
}

/**
 * tfjs's own wasm kernels a step may call besides specflow's (./kernels/index.ts): pure functions of
 * their inputs and attributes, with output shapes that depend on input shapes only.
 */
const PURE_TFJS_KERNELS: readonly string[] = [
  'Reshape', 'Transpose', 'ZerosLike', 'OnesLike', 'Fill', 'Neg', 'Square', 'Sqrt', 'Rsqrt', 'Abs', 'Sign',
  'Maximum', 'Minimum', 'Max', 'Min', 'Prod', 'Slice', 'Concat', 'Tile', 'Pad', 'PadV2', 'Log', 'Log1p', 'Softplus',
  'Sigmoid', 'Tanh', 'Pow', 'FloorDiv', 'Floor', 'Ceil', 'Round', 'Less', 'LessEqual', 'GreaterEqual', 'Equal', 'NotEqual',
  'LogicalAnd', 'LogicalOr', 'LogicalNot', 'ClipByValue', 'Elu', 'EluGrad', 'Relu6', 'Prelu', 'MaxPool', 'AvgPool',
  'AvgPoolGrad', 'ResizeNearestNeighbor', 'ResizeBilinear', 'StridedSlice', 'Stack', 'Unpack', 'Split', 'SplitV',
  'BroadcastTo', 'ExpandDims', 'Squeeze', 'Softmax', 'AddN', 'DepthwiseConv2dNative', 'Step', 'Sin', 'Cos',
];

/** An optional kernel input not given. */
const ABSENT = -1;

/** The argument object tfjs's engine passes a kernel function. */
type KernelArgs = Parameters<KernelFunc>[0];

/** A kernel call of a recorded step: which values go in, which come out. */
interface Call {
  kernelFunc: KernelFunc;
  /**
   * The engine's own argument object of the recorded call, reused by every replay with a tensor
   * shell (`slots`) in place of each input: the kernel then sees objects of the shapes (V8's maps)
   * it sees from the engine, and its optimised code is not thrown away when the engine runs a step
   * between replays (a new batch shape, validation); nor is replay's call loop, which no longer
   * builds an input record per call.
   */
  args: KernelArgs;
  /** Per input position, the tensor shell whose dataId each replay sets (undefined: input absent). */
  slots: (Tensor | undefined)[];
  name: string;
  /** Input names in order (or undefined: the inputs are an array, as Concat's). */
  inputNames: string[] | undefined;
  inputs: number[];
  inputShapes: number[][];
  inputDtypes: string[];
  attrs: object;
  attrsText: string;
  outputs: number[];
  /** Values whose replay references are released after this call: value, count, value, count… */
  release: number[];
}

type Source =
  | { kind: 'input'; index: number; shape: number[] }
  | { kind: 'tensor'; tensor: Tensor }
  | { kind: 'constant'; keeper: Tensor; bytes: Uint8Array }
  | { kind: 'produced' };

interface Recording {
  backend: BackendWasm;
  calls: Call[];
  values: Source[];
  /** The step's outputs: value, shape, dtype. */
  outputs: { value: number; shape: number[]; dtype: string }[];
  /** Per value: references replay hands out beyond those its calls create (incRef at the end). */
  extraRefs: [number, number][];
}

type Entry = { state: 'recorded'; recording: Recording } | { state: 'ready'; recording: Recording } | { state: 'engine' };

/** Shapes kept per step function; the oldest is dropped beyond (a run meets one or two: full and last batch). */
const MAX_SHAPES = 4;

export function stepReplayEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.SPECFLOW_STEP_REPLAY?.trim() !== '0';
}

export class StepReplay {
  private readonly entries = new Map<string, Entry>();
  /** Why the last recording of each key was refused (tests, benches). */
  readonly refusals = new Map<string, string>();
  replays = 0;

  constructor(private readonly tf: TF, private readonly enabled = stepReplayEnabled()) {}

  /**
   * The step's output tensors, as `step()` would return them: by the engine (recording the first
   * two steps of a key), or replayed. `inputs` are the tensors the step reads that change from one
   * step to the next (the batch); everything else it reads must outlive the step.
   */
  run(key: string, inputs: Tensor[], step: () => Tensor[]): Tensor[] {
    const tf = this.tf;
    if (!this.enabled || tf.getBackend() !== 'wasm') return step();
    const entry = this.entries.get(key);
    if (entry?.state === 'engine') return step();
    if (entry?.state === 'ready') {
      const out = replay(tf, entry.recording, inputs);
      if (out) {
        this.replays++;
        return out;
      }
      this.drop(key);
      return step();
    }
    const { outputs, recording, refusal } = record(tf, inputs, step);
    if (!recording) {
      this.drop(key);
      this.entries.set(key, { state: 'engine' });
      this.refusals.set(key, refusal ?? 'unknown');
      return outputs;
    }
    if (!entry) {
      if (this.entries.size >= MAX_SHAPES) this.drop(this.entries.keys().next().value!);
      this.entries.set(key, { state: 'recorded', recording });
      return outputs;
    }
    const difference = differs(entry.recording, recording);
    this.drop(key);
    if (difference) {
      releaseRecording(recording);
      this.entries.set(key, { state: 'engine' });
      this.refusals.set(key, difference);
    } else {
      this.entries.set(key, { state: 'ready', recording });
    }
    return outputs;
  }

  private drop(key: string): void {
    const entry = this.entries.get(key);
    if (entry && entry.state !== 'engine') releaseRecording(entry.recording);
    this.entries.delete(key);
  }

  /** Releases the recordings' constants. */
  dispose(): void {
    for (const key of [...this.entries.keys()]) this.drop(key);
  }
}

function releaseRecording(r: Recording): void {
  for (const v of r.values) if (v.kind === 'constant') v.keeper.dispose();
}

let recordingNow = false;

/** tfjs's engine, with the method that wraps existing data in a tracked tensor (no copy, no new reference). */
function engineOf(tf: TF): { makeTensorFromTensorInfo(info: TensorInfo): Tensor } {
  return tf.engine() as unknown as { makeTensorFromTensorInfo(info: TensorInfo): Tensor };
}

/** Runs step() by the engine, recording its kernel calls and uploads; no recording when something forbids replay. */
function record(tf: TF, inputs: Tensor[], step: () => Tensor[]): { outputs: Tensor[]; recording?: Recording; refusal?: string } {
  if (recordingNow) return { outputs: step(), refusal: 'nested step' };
  const backend = tf.backend() as unknown as BackendWasm;
  const engine = engineOf(tf);
  const allowed = new Set([...FIXED_KERNELS, ...PURE_TFJS_KERNELS]);
  const calls: Call[] = [];
  const values: Source[] = [];
  const valueOf = new Map<DataId, number>();
  const tensorsSeen: { tensor: Tensor; value: number }[] = [];
  let refusal: string | undefined;
  let depth = 0;
  const refuse = (why: string) => { refusal ??= why; };

  const valueIn = (t: Tensor | TensorInfo | undefined): number => {
    if (t == null) return ABSENT; // an optional input not given (a fused op's bias)
    const known = valueOf.get(t.dataId);
    if (known !== undefined) return known;
    const index = inputs.findIndex((i) => i.dataId === t.dataId);
    const isTensor = typeof (t as Tensor).dispose === 'function';
    if (index < 0 && !isTensor) refuse('a kernel input that is neither a step input nor a tensor');
    values.push(index >= 0 ? { kind: 'input', index, shape: t.shape.slice() } : { kind: 'tensor', tensor: t as Tensor });
    valueOf.set(t.dataId, values.length - 1);
    if (index < 0 && isTensor) tensorsSeen.push({ tensor: t as Tensor, value: values.length - 1 });
    return values.length - 1;
  };

  const registered = tf.getKernelsForBackend('wasm') as unknown as RegisteredKernel[];
  const originals = registered.map((k) => k.kernelFunc);
  registered.forEach((k, i) => {
    const inner = originals[i]!;
    k.kernelFunc = (args) => {
      if (depth > 0) return inner(args);
      if (!allowed.has(k.kernelName)) refuse(`kernel ${k.kernelName}`);
      const names = Array.isArray(args.inputs) ? undefined : Object.keys(args.inputs);
      const infos: (TensorInfo | undefined)[] = Array.isArray(args.inputs) ? args.inputs : names!.map((n) => (args.inputs as Record<string, TensorInfo>)[n]);
      const inValues = infos.map(valueIn);
      let attrsText = '';
      try {
        attrsText = JSON.stringify(args.attrs ?? {});
      } catch {
        refuse(`attributes of ${k.kernelName}`);
      }
      depth++;
      let out: TensorInfo | TensorInfo[];
      try {
        out = inner(args);
      } finally {
        depth--;
      }
      const outs = Array.isArray(out) ? out : [out];
      const outValues = outs.map((o) => {
        const known = valueOf.get(o.dataId);
        if (known !== undefined) return known; // a view sharing its input's data (Identity, Reshape)
        values.push({ kind: 'produced' });
        valueOf.set(o.dataId, values.length - 1);
        return values.length - 1;
      });
      calls.push({
        kernelFunc: inner, args: args as KernelArgs, slots: [], name: k.kernelName, inputNames: names, inputs: inValues,
        inputShapes: infos.map((t) => t?.shape.slice() ?? []), inputDtypes: infos.map((t) => t?.dtype ?? ''),
        attrs: { ...(args.attrs ?? {}) }, attrsText, outputs: outValues, release: [],
      });
      return out;
    };
  });

  const proto = Object.getPrototypeOf(backend) as BackendWasm;
  backend.write = (vals, shape, dtype) => {
    const id = proto.write.call(backend, vals, shape, dtype);
    if (depth > 0) return id;
    if (dtype === 'string' || vals === null) {
      refuse('an upload of strings or of no values');
      return id;
    }
    const bytes = vals instanceof Uint8Array ? vals.slice() : ArrayBuffer.isView(vals)
      ? new Uint8Array(vals.buffer.slice(vals.byteOffset, vals.byteOffset + vals.byteLength))
      : new Uint8Array(Float32Array.from(vals as unknown as ArrayLike<number>).buffer);
    // kept alive with the recording: an engine tensor of its own sharing the data
    backend.incRef(id);
    const keeper = engine.makeTensorFromTensorInfo({ dataId: id, shape, dtype });
    tf.keep(keeper);
    values.push({ kind: 'constant', keeper, bytes });
    valueOf.set(id, values.length - 1);
    return id;
  };
  backend.typedArrayFromHeap = ((...args: Parameters<BackendWasm['typedArrayFromHeap']>) => {
    if (depth === 0) refuse('tensor memory read or written directly inside the step');
    return proto.typedArrayFromHeap.apply(backend, args);
  }) as BackendWasm['typedArrayFromHeap'];
  backend.readSync = ((...args: Parameters<BackendWasm['readSync']>) => {
    if (depth === 0) refuse('a data read inside the step');
    return proto.readSync.apply(backend, args);
  }) as BackendWasm['readSync'];
  backend.read = ((...args: Parameters<BackendWasm['read']>) => {
    if (depth === 0) refuse('a data read inside the step');
    return proto.read.apply(backend, args);
  }) as BackendWasm['read'];

  let outputs: Tensor[];
  recordingNow = true;
  try {
    outputs = step();
  } catch (e) {
    releaseRecording({ values } as Recording);
    throw e;
  } finally {
    recordingNow = false;
    registered.forEach((k, i) => { k.kernelFunc = originals[i]!; });
    delete (backend as Partial<BackendWasm>).write;
    delete (backend as Partial<BackendWasm>).readSync;
    delete (backend as Partial<BackendWasm>).read;
    delete (backend as Partial<BackendWasm>).typedArrayFromHeap;
  }
  const outs = outputs.map((t) => {
    const value = valueOf.get(t.dataId);
    if (value === undefined) refuse('an output no kernel or upload of the step made');
    return { value: value ?? -1, shape: t.shape.slice(), dtype: t.dtype };
  });
  for (const { tensor } of tensorsSeen) if (tensor.isDisposed) refuse('a tensor the step read was disposed by its end');
  const recording = refusal === undefined ? plan(tf, { backend, calls, values, outputs: outs, extraRefs: [] }) : undefined;
  if (!recording) releaseRecording({ values } as Recording);
  return refusal === undefined ? { outputs, recording: recording! } : { outputs, refusal };
}

/**
 * When replay releases each value's references: every call output is one reference (a view such
 * as Identity's adds one to its input's data); all but those handed out as step outputs are
 * released after the value's last use, and outputs with fewer references than hand-outs get more.
 */
function plan(tf: TF, r: Recording): Recording {
  const refs = new Array<number>(r.values.length).fill(0);
  const lastUse = new Array<number>(r.values.length).fill(-1);
  r.calls.forEach((c, k) => {
    for (const v of c.inputs) if (v !== ABSENT) lastUse[v] = k;
    for (const v of c.outputs) {
      refs[v]!++;
      lastUse[v] = k;
    }
  });
  const handOuts = new Array<number>(r.values.length).fill(0);
  for (const o of r.outputs) handOuts[o.value]!++;
  for (let v = 0; v < r.values.length; v++) {
    const surplus = refs[v]! - handOuts[v]!;
    if (surplus > 0) r.calls[lastUse[v]!]!.release.push(v, surplus);
    else if (surplus < 0) r.extraRefs.push([v, -surplus]);
  }
  for (const c of r.calls) installSlots(tf, c);
  return r;
}

/** No data yet: a slot's dataId before its first replay. */
const NO_DATA: DataId = Object.freeze({});

/**
 * Puts a tensor shell of the recorded shape and dtype in each input position of the call's engine
 * arguments (the engine's tensors of the recorded step are let go). A shell is a tfjs Tensor made
 * by its constructor, as the engine makes them, but never tracked: only its dataId changes.
 */
function installSlots(tf: TF, c: Call): void {
  if (c.args.attrs !== undefined) c.args.attrs = c.attrs;
  const { inputs } = c.args;
  c.slots = c.inputs.map((v, i) => {
    if (v === ABSENT) return undefined;
    const shell = new tf.Tensor(c.inputShapes[i]!, c.inputDtypes[i] as Tensor['dtype'], NO_DATA, -1);
    if (Array.isArray(inputs)) inputs[i] = shell as TensorInfo;
    else inputs[c.inputNames![i]!] = shell as TensorInfo;
    return shell;
  });
}

/** Where two recordings of one key differ, if they do (then the step is not a function of its shapes). */
function differs(a: Recording, b: Recording): string | undefined {
  if (a.calls.length !== b.calls.length) return `${a.calls.length} kernel calls, then ${b.calls.length}`;
  if (a.values.length !== b.values.length) return 'values differ';
  for (let k = 0; k < a.calls.length; k++) {
    const x = a.calls[k]!;
    const y = b.calls[k]!;
    if (x.name !== y.name || x.kernelFunc !== y.kernelFunc || x.attrsText !== y.attrsText || String(x.inputNames) !== String(y.inputNames)
      || String(x.inputs) !== String(y.inputs) || String(x.outputs) !== String(y.outputs)
      || JSON.stringify(x.inputShapes) !== JSON.stringify(y.inputShapes) || String(x.inputDtypes) !== String(y.inputDtypes)) {
      return `call ${k} (${x.name}, then ${y.name})`;
    }
  }
  for (let v = 0; v < a.values.length; v++) {
    const x = a.values[v]!;
    const y = b.values[v]!;
    if (x.kind !== y.kind) return `value ${v}: ${x.kind}, then ${y.kind}`;
    if (x.kind === 'input' && x.index !== (y as typeof x).index) return `value ${v}: another input`;
    if (x.kind === 'tensor' && x.tensor !== (y as typeof x).tensor) return `value ${v}: another tensor`;
    if (x.kind === 'constant' && !Buffer.from(x.bytes).equals(Buffer.from((y as typeof x).bytes))) return `value ${v}: an upload of other values`;
  }
  if (JSON.stringify(a.outputs) !== JSON.stringify(b.outputs)) return 'outputs differ';
  return undefined;
}

/**
 * The recorded step's outputs on these inputs, or undefined when a tensor it reads has since been
 * disposed or an input has another shape than recorded.
 */
function replay(tf: TF, r: Recording, inputs: Tensor[]): Tensor[] | undefined {
  const backend = r.backend;
  if (tf.backend() !== (backend as unknown)) return undefined;
  const data = new Array<DataId | undefined>(r.values.length);
  for (let v = 0; v < r.values.length; v++) {
    const s = r.values[v]!;
    if (s.kind === 'input') {
      const t = inputs[s.index];
      // the kernels are called with the recorded shapes: another shape under the same key must not reach them
      if (!t || t.isDisposed || t.shape.length !== s.shape.length || t.shape.some((n, i) => n !== s.shape[i])) return undefined;
      data[v] = t.dataId;
    } else if (s.kind === 'tensor') {
      if (s.tensor.isDisposed) return undefined;
      data[v] = s.tensor.dataId;
    } else if (s.kind === 'constant') {
      data[v] = s.keeper.dataId;
    }
  }
  let k = 0;
  try {
    for (; k < r.calls.length; k++) call(r.calls[k]!, data, backend);
  } catch (e) {
    releaseUpTo(r, k, data);
    throw e;
  }
  for (const [v, n] of r.extraRefs) for (let i = 0; i < n; i++) backend.incRef(data[v]!);
  const engine = engineOf(tf);
  return r.outputs.map((o) => engine.makeTensorFromTensorInfo({ dataId: data[o.value]!, shape: o.shape, dtype: o.dtype } as TensorInfo));
}

/** One recorded kernel call on the values' data of this replay; then the references its plan releases. */
function call(c: Call, data: (DataId | undefined)[], backend: BackendWasm): void {
  const { slots, inputs } = c;
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i];
    if (slot !== undefined) (slot as { dataId: DataId }).dataId = data[inputs[i]!]!;
  }
  const out = c.kernelFunc(c.args);
  if (Array.isArray(out)) for (let j = 0; j < out.length; j++) data[c.outputs[j]!] ??= out[j]!.dataId;
  else data[c.outputs[0]!] ??= out.dataId;
  const release = c.release;
  for (let r = 0; r < release.length; r += 2) {
    const id = data[release[r]!]!;
    for (let n = release[r + 1]!; n > 0; n--) backend.disposeData(id);
  }
}

/** After call `failed` threw: releases every reference the calls before it made and had not released. */
function releaseUpTo(r: Recording, failed: number, data: (DataId | undefined)[]): void {
  const held = new Array<number>(r.values.length).fill(0);
  for (let k = 0; k < failed; k++) {
    for (const v of r.calls[k]!.outputs) held[v]!++;
    const release = r.calls[k]!.release;
    for (let i = 0; i < release.length; i += 2) held[release[i]!]! -= release[i + 1]!;
  }
  held.forEach((n, v) => { for (let i = 0; i < n; i++) r.backend.disposeData(data[v]!); });
}
