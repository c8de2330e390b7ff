/** The stage contract lives in the neutral core (src/core/) so that data/, report/ and
 * stages/ never import the runner; this re-export keeps runner-internal imports and
 * plugins written against the old path working. */
export * from '../core/stage-api.js';
