/** Worker-thread entry of the streaming `preprocess` (see chunk.ts and ../chunk-pool.ts). */
import { runChunk, type ChunkJob, type ChunkResult } from './chunk.js';

export default function work(job: ChunkJob): ChunkResult {
  return runChunk(job);
}
