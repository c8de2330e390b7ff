/** Smoothing and derivatives. */
import { sgg } from 'ml-savitzky-golay-generalized';
import { solvePenalized } from './banded.js';

/**
 * Savitzky–Golay: local polynomial least squares over `window` points; with `derivative` > 0
 * the derivative of the local polynomial with respect to the axis (x gives the spacing).
 */
export function savitzkyGolay(y: ArrayLike<number>, x: ArrayLike<number>, window: number, polynomial: number, derivative = 0): Float64Array {
  return Float64Array.from(sgg(Array.from(y), Array.from(x), { windowSize: window, polynomial, derivative }));
}

/** Whittaker smoother (Eilers 2003): minimise |y − z|² + λ|D₂z|². */
export function whittaker(y: ArrayLike<number>, lambda: number, order = 2): Float64Array {
  return solvePenalized(y, new Float64Array(y.length).fill(1), lambda, order);
}
