/**
 * What each latent token holds (the paper's Appendix K): the model is asked, with no photo,
 * "Explain <bo_i>." for every latent token, after the concept's personalization text.
 */
import type { GenerateTextOptions, VisionLanguageModel } from '../models/VisionLanguageModel.ts';
import type { Concept } from './Concept.ts';
import type { ConceptSet } from './ConceptSet.ts';

export interface TokenExplanation {
  readonly token: string;
  readonly text: string;
}

export async function explainConcept(
  vlm: VisionLanguageModel, concepts: ConceptSet, concept: Concept,
  options: Pick<GenerateTextOptions, 'maxNewTokens' | 'signal'> & { onExplanation?: (explanation: TokenExplanation) => void } = {},
): Promise<TokenExplanation[]> {
  const out: TokenExplanation[] = [];
  for (const token of [concept.identifier, ...concept.latentTokens]) {
    if (options.signal?.aborted) break;
    const prompt = vlm.prompt([{ user: `Explain ${token}.` }], { personalization: concept.personalization });
    const answer = await vlm.generate(prompt, [], { maxNewTokens: options.maxNewTokens ?? 48, extra: concepts.extraTokens(), signal: options.signal, stopStrings: ['\n\n'] });
    const explanation = { token, text: answer.text };
    out.push(explanation);
    options.onExplanation?.(explanation);
  }
  return out;
}
