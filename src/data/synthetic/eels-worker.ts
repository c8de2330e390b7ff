/** Worker-thread entry of the streaming `synthetic.eels` map mode (see eels.ts and ../chunk-pool.ts). */
export { eelsMapRows as default } from './eels.js';
