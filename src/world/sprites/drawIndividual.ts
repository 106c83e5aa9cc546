/** Draws any individual in its own design units; the caller sets the sprite transform. */
import type { Canvas } from '../Canvas.ts';
import type { Individual } from '../kindSchemas.ts';
import { CHARACTER_HEIGHT, CHARACTER_WIDTH, drawCharacter } from './drawCharacter.ts';
import { LANDMARK_HEIGHT, LANDMARK_WIDTH, drawLandmark } from './drawLandmark.ts';
import { OBJECT_HEIGHT, OBJECT_WIDTH, drawObject } from './drawObject.ts';
import { PERSON_WIDTH, drawPerson, personHeight } from './drawPerson.ts';
import { PET_HEIGHT, PET_WIDTH, drawPet } from './drawPet.ts';
import type { PoseName } from './poses.ts';

/** The design box of an individual, in design units (1 unit = 1 px at scale 1). */
export function spriteSize(ind: Individual): { width: number; height: number } {
  switch (ind.kind) {
    case 'person':
      return { width: PERSON_WIDTH, height: personHeight(ind) };
    case 'pet':
      return { width: PET_WIDTH, height: PET_HEIGHT };
    case 'landmark':
      return { width: LANDMARK_WIDTH, height: LANDMARK_HEIGHT };
    case 'object':
      return { width: OBJECT_WIDTH, height: OBJECT_HEIGHT };
    case 'character':
      return { width: CHARACTER_WIDTH, height: CHARACTER_HEIGHT };
  }
}

export function drawIndividual(c: Canvas, ind: Individual, pose: PoseName): void {
  switch (ind.kind) {
    case 'person':
      return drawPerson(c, ind, pose);
    case 'pet':
      return drawPet(c, ind, pose);
    case 'landmark':
      return drawLandmark(c, ind);
    case 'object':
      return drawObject(c, ind);
    case 'character':
      return drawCharacter(c, ind, pose);
  }
}
