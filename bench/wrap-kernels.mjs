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
