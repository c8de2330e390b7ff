// Re-registers the current backend's kernels (those `keep` accepts) with a
// wrapper, so a profiling script can time each call: `wrap(name, kernelFunc, args)`
// must call kernelFunc(args) and return its result.
export function wrapKernels(tf, wrap, keep = () => true) {
  for (const k of tf.getKernelsForBackend(tf.getBackend())) {
    if (!keep(k.kernelName)) continue;
    const f = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, k.backendName);
    tf.registerKernel({ ...k, kernelFunc: (args) => wrap(k.kernelName, f, args) });
  }
}

/**
 * Times every kernel call in process CPU time, exclusive of the kernels it
 * calls (a fused kernel's inner calls are counted once, under their own
 * names): `record(name, args, ms)` after each call made while `on()`.
 */
export function timeKernels(tf, record, on = () => true) {
  const ms = (c) => (c.user + c.system) / 1e3;
  const stack = [];
  wrapKernels(tf, (name, f, args) => {
    if (!on()) return f(args);
    const c = process.cpuUsage();
    stack.push(0);
    const r = f(args);
    const dt = ms(process.cpuUsage(c));
    const inner = stack.pop();
    if (stack.length) stack[stack.length - 1] += dt;
    record(name, args, dt - inner);
    return r;
  });
}
