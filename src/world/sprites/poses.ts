/** Poses: how an individual stands in a scene (not part of its identity). */
import type { Kind } from '../kindSchemas.ts';

export const POSES_BY_KIND = {
  person: ['standing', 'waving', 'arms up'],
  pet: ['standing', 'sitting'],
  landmark: ['standing'],
  object: ['standing'],
  character: ['standing', 'waving'],
} as const satisfies Record<Kind, readonly string[]>;

export type PoseName = (typeof POSES_BY_KIND)[Kind][number];
