/** Worker-thread entry of the streaming `synthetic.raman` (see raman.ts and ../chunk-pool.ts). */
export { ramanRows as default } from './raman.js';
