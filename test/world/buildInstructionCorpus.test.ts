import assert from 'node:assert/strict';
import { NEGATIVE_RECOGNITION_TEMPLATES, POSITIVE_RECOGNITION_TEMPLATES } from '../../src/personalize/recognitionTemplates.ts';
import { test } from 'node:test';
import {
  attributeAnswer,
  attributeDistance,
  attributeCheckQuestion,
  attributeQuestion,
  buildInstructionCorpus,
  CORPUS_TASKS,
  DEFAULT_CORPUS_MIX,
  createWorldSplit,
  describeIndividual,
  entityIndividual,
  entityReferences,
  instructionSample,
  KIND_NOUNS,
  KIND_SCHEMAS,
  KINDS,
  PLACEHOLDER_NAMES,
  renderScene,
  subjectRef,
  typeNoun,
  unknownWords,
  WORLD_VOCABULARY,
  type CorpusSample,
  type Individual,
  type SceneDescription,
} from '../../src/world/index.ts';

const MCQ = /^(?:.+ )?Question: (.+)\nOptions:\nA\. (.+)\nB\. (.+)\nPlease give a single character from the options above\.$/s;
const samples: CorpusSample[] = [...buildInstructionCorpus({ seed: 3, count: 2500 })];
const descriptions = new Map<CorpusSample, SceneDescription>();
const sceneOf = (s: CorpusSample): SceneDescription => {
  if (!descriptions.has(s)) descriptions.set(s, renderScene(s.image!).description);
  return descriptions.get(s)!;
};

test('every task appears, roughly in its share; image tasks carry a scene, text tasks none', () => {
  const counts = new Map<string, number>();
  for (const s of samples) counts.set(s.task, (counts.get(s.task) ?? 0) + 1);
  for (const task of CORPUS_TASKS) {
    if (DEFAULT_CORPUS_MIX[task] === 0) assert.equal(counts.get(task), undefined, `${task} is off by default`);
    else assert.ok((counts.get(task) ?? 0) >= 20, `${task}: ${counts.get(task)}`);
  }
  assert.ok(counts.get('recognition')! > 450);
  const textOnly = new Set(['description_text', 'kind_text', 'option_match']);
  const all = [...samples, ...buildInstructionCorpus({ seed: 3, count: 100, mix: { option_match: 1 } })];
  for (const s of all) {
    assert.ok(s.turns.length >= 1);
    assert.equal(s.image === undefined, textOnly.has(s.task), s.task);
  }
});

test('option_match: the letter that holds a named value, or the value a letter holds, both options of one attribute', () => {
  const only = [...buildInstructionCorpus({ seed: 5, count: 200, mix: Object.fromEntries(CORPUS_TASKS.map((t) => [t, t === 'option_match' ? 1 : 0])) })];
  let letters = 0;
  let values = 0;
  for (const s of only) {
    assert.equal(s.task, 'option_match');
    for (const turn of s.turns) {
      const options = /A\. (.*)\nB\. (.*)\n/.exec(turn.user);
      assert.ok(options, turn.user);
      const [, a, b] = options;
      assert.notEqual(a, b);
      const named = /Which option says "(.*)"\?/.exec(turn.user);
      if (named) {
        letters++;
        assert.equal(turn.assistant, named[1] === a ? 'A' : 'B', turn.user);
        assert.ok(named[1] === a || named[1] === b);
      } else {
        values++;
        const letter = /What does option ([AB]) say\?/.exec(turn.user)![1];
        assert.equal(turn.assistant, letter === 'A' ? a : b, turn.user);
      }
    }
  }
  assert.ok(letters > 100 && values > 50, `${letters} letter turns, ${values} value turns`);
});

test('the mix is configurable per task', () => {
  const only = [...buildInstructionCorpus({ seed: 1, count: 200, mix: Object.fromEntries(CORPUS_TASKS.map((t) => [t, t === 'counting' ? 1 : 0])) })];
  assert.ok(only.every((s) => s.task === 'counting'));
  const mostlyRecognition = [...buildInstructionCorpus({ seed: 1, count: 300, mix: { recognition: 10 } })];
  assert.ok(mostlyRecognition.filter((s) => s.task === 'recognition').length > 200);
});

test('deterministic: same seed, same samples; random access matches the stream', () => {
  const again = [...buildInstructionCorpus({ seed: 3, count: 200 })];
  assert.deepEqual(again, samples.slice(0, 200));
  for (const i of [0, 17, 150]) assert.deepEqual(instructionSample({ seed: 3 }, i), samples[i]);
  const other = [...buildInstructionCorpus({ seed: 4, count: 50 })];
  assert.notDeepEqual(other, samples.slice(0, 50));
});

test('the vocabulary is closed: every text is made of WORLD_VOCABULARY tokens', () => {
  for (const s of samples) {
    for (const t of s.turns) {
      assert.deepEqual(unknownWords(t.user), [], t.user);
      assert.deepEqual(unknownWords(t.assistant), [], t.assistant);
    }
  }
  assert.deepEqual(unknownWords('The cat is zorgly!'), ['zorgly', '!']);
  for (const kind of KINDS) {
    // Every value word that texts use ("none" is never written out).
    for (const spec of KIND_SCHEMAS[kind]) for (const v of spec.values) if (v !== 'none') assert.deepEqual(unknownWords(v), [], `${kind}.${spec.name}=${v}`);
  }
  assert.ok(WORLD_VOCABULARY.length < 700, `${WORLD_VOCABULARY.length} tokens`);
});

test('two-option questions have the exact prompt format and a letter answer', () => {
  let n = 0;
  for (const s of samples) {
    for (const t of s.turns) {
      if (!t.user.includes('Options:')) continue;
      const m = MCQ.exec(t.user);
      assert.ok(m, JSON.stringify(t.user));
      assert.notEqual(m[2], m[3]);
      assert.match(t.assistant, /^[AB]$/);
      n++;
    }
  }
  assert.ok(n > 200);
});

/** The open question, if any, that `question` is about `ind` through `ref` → expected answer. */
function expectedAnswer(question: string, ind: Individual, refName: string, possessive?: string): string | null {
  const ref = possessive ? { name: refName, possessive } : subjectRef(refName);
  for (const spec of KIND_SCHEMAS[ind.kind]) if (attributeQuestion(ref, ind, spec.name) === question) return attributeAnswer(ind, spec.name);
  return null;
}

/** "Yes"/"No" when `question` checks a value of one of `ind`'s attributes through `ref`, else null. */
function checkAnswer(question: string, ind: Individual, refName: string, possessive?: string): string | null {
  const ref = possessive ? { name: refName, possessive } : subjectRef(refName);
  const match = KIND_SCHEMAS[ind.kind].flatMap((a) => a.values.map((v) => ({ a: a.name, v }))).filter(({ a, v }) => attributeCheckQuestion(ref, ind, a, v) === question);
  if (match.length === 0) return null;
  return match.some(({ a, v }) => ind.attributes[a] === v) ? 'Yes' : 'No';
}

const isYesNoChoice = (m: RegExpExecArray): boolean => [m[2], m[3]].sort().join() === 'No,Yes';

test('image questions about attributes are answered from the scene ground truth', () => {
  let checked = 0;
  let yesNoChoices = 0;
  for (const s of samples.filter((x) => x.task === 'attribute' || x.task === 'mcq')) {
    const d = sceneOf(s);
    const refs = entityReferences(d);
    for (const t of s.turns) {
      const m = MCQ.exec(t.user);
      const question = (m ? m[1] : t.user).replace(' Answer with a single word or phrase.', '');
      const answer = m && isYesNoChoice(m) ? checkAnswer : expectedAnswer;
      if (m && isYesNoChoice(m)) yesNoChoices++;
      const answers = d.entities
        .map((e, i) => (refs[i].byKind ? answer(question, entityIndividual(e), refs[i].byKind!.name, refs[i].byKind!.possessive) : null))
        .filter((a): a is string => a !== null);
      assert.equal(answers.length, 1, `${question} matches ${answers.length} individuals`);
      const given = m ? (t.assistant === 'A' ? m[2] : m[3]) : t.assistant;
      assert.equal(given, answers[0], question);
      if (m) assert.notEqual(t.assistant === 'A' ? m[3] : m[2], answers[0]);
      checked++;
    }
  }
  assert.ok(checked > 300);
  assert.ok(yesNoChoices > 10, `${yesNoChoices} yes/no checks as two options about a picture`);
});

test('recognition answers Yes exactly when the described individual is in the picture', () => {
  const split = createWorldSplit(0);
  let positives = 0;
  let lookAlikeNegatives = 0;
  for (const s of samples.filter((x) => x.task === 'recognition')) {
    const [turn] = s.turns;
    const m = /^(<[a-z]+>) is (.+?)\. (.+)$/.exec(turn.user);
    assert.ok(m, turn.user);
    assert.ok(PLACEHOLDER_NAMES.includes(m[1].slice(1, -1)));
    assert.equal(m[2], describeIndividual(s.named!));
    const d = sceneOf(s);
    const present = d.entities.some((e) => e.description === m[2]);
    const said = !/^No\b|\bnot\b|cannot|do not/.test(turn.assistant);
    assert.equal(said, present, `${turn.user} → ${turn.assistant}`);
    if (turn.user.endsWith('Answer with a single word or phrase.')) assert.ok(turn.assistant === 'Yes' || turn.assistant === 'No');
    if (present) positives++;
    else if (d.entities.some((e) => e.kind === s.named!.kind && KIND_SCHEMAS[e.kind].filter((a) => e.attributes[a.name] !== s.named!.attributes[a.name]).length <= 2)) lookAlikeNegatives++;
    for (const e of d.entities) assert.ok(!split.isHeldOut(entityIndividual(e)), 'a held-out individual appeared');
    assert.ok(!split.isHeldOut(s.named!));
  }
  const total = samples.filter((x) => x.task === 'recognition').length;
  assert.ok(positives > total * 0.4 && positives < total * 0.6, `${positives}/${total} positive`);
  assert.ok(lookAlikeNegatives > (total - positives) * 0.6, `${lookAlikeNegatives} look-alike negatives`);
});

test("recognition in the paper's forms: its questions answered Yes/No as the picture says, the evaluation prompt in about half", () => {
  const only = [...buildInstructionCorpus({ seed: 8, count: 200, mix: Object.fromEntries(CORPUS_TASKS.map((t) => [t, t === 'recognition' ? 1 : 0])), recognition: { forms: 'paper' } })];
  const paperQuestions = new Set([...POSITIVE_RECOGNITION_TEMPLATES, ...NEGATIVE_RECOGNITION_TEMPLATES].map((t) => t.question));
  let evalPrompt = 0;
  const forms = new Set<string>();
  for (const s of only) {
    const [turn] = s.turns;
    const m = /^(<[a-z]+>) is (.+?)\. (.+)$/.exec(turn.user)!;
    const question = m[3].replaceAll(m[1], '<sks>');
    if (question === 'Can you see if <sks> is in this photo? Answer with a single word or phrase.') evalPrompt++;
    else { assert.ok(paperQuestions.has(question), question); forms.add(question); }
    const present = sceneOf(s).entities.some((e) => e.description === m[2]);
    assert.equal(turn.assistant, present ? 'Yes' : 'No', turn.user);
  }
  assert.ok(evalPrompt > 70 && evalPrompt < 130, `${evalPrompt} of 200 with the evaluation prompt`);
  assert.ok(forms.size >= 25, `${forms.size} of the paper's 33 forms seen`);
});

test('recognition.lookAlikeWeights: look-alikes change the weighted attribute more often; without it the samples are unchanged', () => {
  const mix = Object.fromEntries(CORPUS_TASKS.map((t) => [t, t === 'recognition' ? 1 : 0]));
  const changedHair = (recognition: object): { hair: number; person: number } => {
    let hair = 0;
    let person = 0;
    for (const s of buildInstructionCorpus({ seed: 9, count: 1500, mix, recognition: { negatives: { oneAttribute: 1 }, ...recognition } })) {
      const shown = sceneOf(s).entities.find((e) => e.kind === 'person' && e.description !== describeIndividual(s.named!));
      if (s.named!.kind !== 'person' || !shown || s.turns[0].assistant !== 'No') continue;
      const changed = KIND_SCHEMAS.person.filter((a) => shown.attributes[a.name] !== s.named!.attributes[a.name]).map((a) => a.name);
      if (changed.length !== 1) continue;
      person++;
      if (changed[0] === 'hairStyle') hair++;
    }
    return { hair, person };
  };
  const uniform = changedHair({});
  const weighted = changedHair({ lookAlikeWeights: { 'person.hairStyle': 9, 'pet.collar': 5 } });
  const attributes = KIND_SCHEMAS.person.length;
  assert.ok(uniform.person > 50 && weighted.person > 50, `${uniform.person} / ${weighted.person} one-attribute person negatives`);
  // Uniform: 1 in `attributes`; hairStyle at 9: 9 in (attributes + 8).
  assert.ok(uniform.hair / uniform.person < 2 / attributes, `uniform: ${uniform.hair}/${uniform.person}`);
  assert.ok(weighted.hair / weighted.person > 0.35, `weighted: ${weighted.hair}/${weighted.person}`);
  const plain = [...buildInstructionCorpus({ seed: 9, count: 50, mix })];
  const otherKindWeighted = [...buildInstructionCorpus({ seed: 9, count: 50, mix, recognition: { lookAlikeWeights: {} } })];
  assert.deepEqual(otherKindWeighted, plain, 'no weights for any kind: the same samples');
});

test('attribute_compare: one named attribute of the picture against the description, "Yes" exactly when they agree', () => {
  const only = [...buildInstructionCorpus({ seed: 10, count: 400, mix: Object.fromEntries(CORPUS_TASKS.map((t) => [t, t === 'attribute_compare' ? 1 : 0])) })];
  const split = createWorldSplit(0);
  let no = 0;
  const asked = new Set<string>();
  for (const s of only) {
    assert.equal(s.task, 'attribute_compare');
    const [turn] = s.turns;
    const m = /^(<[a-z]+>) is (.+?)\. (.+) Is it the same for (<[a-z]+>)\?$/.exec(turn.user);
    assert.ok(m, turn.user);
    assert.equal(m[1], m[4]);
    assert.equal(m[2], describeIndividual(s.named!));
    const [entity] = sceneOf(s).entities;
    assert.equal(sceneOf(s).entities.length, 1);
    const shown = entityIndividual(entity);
    assert.ok(attributeDistance(shown, s.named!) <= 1, 'the subject or a one-attribute look-alike');
    assert.ok(!split.isHeldOut(s.named!) && !split.isHeldOut(shown));
    // Which attribute is asked: the one whose question about "this <kind>" is the sample's.
    const ref = { name: `this ${s.named!.kind}`, possessive: `this ${s.named!.kind}'s` };
    const attribute = KIND_SCHEMAS[s.named!.kind].map((a) => a.name).find((a) => m[3] === attributeQuestion(ref, shown, a));
    assert.ok(attribute, `asked: ${m[3]}`);
    asked.add(`${s.named!.kind}.${attribute}`);
    assert.equal(turn.assistant, shown.attributes[attribute] === s.named!.attributes[attribute] ? 'Yes' : 'No', turn.user);
    assert.ok(!m[3].includes(`this ${typeNoun(shown)}`), `the question does not name the type: ${m[3]}`);
    if (turn.assistant === 'No') no++;
  }
  assert.ok(no > 150 && no < 250, `${no} of 400 answered No`);
  assert.ok(asked.size > 25, `${asked.size} attributes asked`);
});

test('recognition_text: the photo as its written words (kind, then values in schema order), "Yes" exactly when they are the named individual\'s', () => {
  const only = [...buildInstructionCorpus({ seed: 11, count: 400, mix: Object.fromEntries(CORPUS_TASKS.map((t) => [t, t === 'recognition_text' ? 1 : 0])) })];
  const split = createWorldSplit(0);
  const negatives = { one: 0, two: 0, sameKind: 0, otherKind: 0 };
  let evalPrompt = 0;
  for (const s of only) {
    assert.equal(s.task, 'recognition_text');
    assert.equal(s.image, undefined, 'no picture');
    const [turn] = s.turns;
    const m = /^In the photo: ([^.]+)\. (<[a-z]+>) is (.+?)\. (.+)$/.exec(turn.user);
    assert.ok(m, turn.user);
    const named = s.named!;
    assert.equal(m[3], describeIndividual(named));
    assert.ok(!split.isHeldOut(named));
    const [kind, ...values] = m[1].split(', ');
    assert.ok((KINDS as readonly string[]).includes(kind), kind);
    const schema = KIND_SCHEMAS[kind as Individual['kind']];
    assert.equal(values.length, schema.length, m[1]);
    schema.forEach((a, j) => assert.ok(a.values.includes(values[j]), `${a.name}: ${values[j]}`));
    const present = kind === named.kind && schema.every((a, j) => named.attributes[a.name] === values[j]);
    if (m[4] === `Can you see if ${m[2]} is in this photo? Answer with a single word or phrase.`) evalPrompt++;
    if (turn.assistant === 'Yes' || turn.assistant === 'No') {
      assert.equal(turn.assistant, present ? 'Yes' : 'No', turn.user);
    } else {
      // The corpus's sentence answers: every negative one says "not" ("cannot", "is not …"), no positive one does.
      assert.ok(turn.assistant.includes(m[2]), turn.assistant);
      assert.equal(/not/.test(turn.assistant), !present, turn.assistant);
    }
    if (present) continue;
    if (kind !== named.kind) negatives.otherKind++;
    else {
      const differing = schema.filter((a, j) => named.attributes[a.name] !== values[j]).length;
      if (differing === 1) negatives.one++;
      else if (differing === 2) negatives.two++;
      else negatives.sameKind++;
    }
  }
  const negativeCount = Object.values(negatives).reduce((a, b) => a + b, 0);
  assert.ok(negativeCount > 150 && negativeCount < 250, `${negativeCount} of 400 negatives`);
  assert.ok(negatives.one > negatives.two && negatives.two > negatives.otherKind && negatives.otherKind > 0 && negatives.sameKind > 0, JSON.stringify(negatives));
  assert.ok(evalPrompt > 150 && evalPrompt < 250, `${evalPrompt} of 400 with the evaluation prompt`);
});

test('questions about a described individual are answered from its ground truth', () => {
  let checked = 0;
  let yesNoChoices = 0;
  let yesNoWords = 0;
  for (const s of samples.filter((x) => x.task === 'description_text')) {
    const ind = s.named!;
    s.turns.forEach((t, k) => {
      let user = t.user;
      const name = /^(<[a-z]+>) is /.exec(s.turns[0].user)![1];
      if (k === 0) {
        const prefix = `${name} is ${describeIndividual(ind)}. `;
        assert.ok(user.startsWith(prefix));
        user = user.slice(prefix.length);
      }
      const m = MCQ.exec(user);
      if (m && isYesNoChoice(m)) {
        const expected = checkAnswer(m[1], ind, name);
        assert.ok(expected, user);
        assert.equal(t.assistant === 'A' ? m[2] : m[3], expected, user);
        yesNoChoices++;
      } else if (m) {
        const expected = expectedAnswer(m[1], ind, name);
        assert.equal(t.assistant === 'A' ? m[2] : m[3], expected, user);
      } else if (t.assistant === 'Yes' || t.assistant === 'No') {
        assert.equal(t.assistant, checkAnswer(user, ind, name), user);
        yesNoWords++;
      } else if (user.startsWith('What kind of subject')) {
        assert.ok(t.assistant.toLowerCase().includes(KIND_NOUNS[ind.kind].singular));
      } else {
        assert.equal(t.assistant, expectedAnswer(user, ind, name), user);
      }
      checked++;
    });
  }
  assert.ok(checked > 200);
  // The benchmark's text questions ask yes/no checks as two options; both forms are taught.
  assert.ok(yesNoChoices > 20 && yesNoWords > 20, `${yesNoChoices} as options, ${yesNoWords} in words`);
});

test('yesNoOptions: false asks every yes/no check in words (the corpus before session 10), \'text\' only without a picture', () => {
  const wordsOnly = [...buildInstructionCorpus({ seed: 3, count: 600, mix: { mcq: 1, description_text: 1 }, yesNoOptions: false })];
  let choices = 0, checksInWords = 0, yesNoChoices = 0;
  for (const s of wordsOnly) {
    for (const t of s.turns) {
      const m = MCQ.exec(t.user.replace(/^<[a-z]+> is [^.]+\. /, ''));
      if (m) { choices++; if (isYesNoChoice(m)) yesNoChoices++; }
      else if (t.assistant === 'Yes' || t.assistant === 'No') checksInWords++;
    }
  }
  assert.equal(yesNoChoices, 0);
  assert.ok(choices > 200 && checksInWords > 50, `${choices} value choices, ${checksInWords} checks in words`);
  // The same corpus with the default asks some as options (the switch is what removes them).
  const withOptions = [...buildInstructionCorpus({ seed: 3, count: 600, mix: { mcq: 1, description_text: 1 } })];
  const asOptions = (list: CorpusSample[], task: string) => list.filter((s) => s.task === task).some((s) => s.turns.some((t) => { const m = MCQ.exec(t.user.replace(/^<[a-z]+> is [^.]+\. /, '')); return m !== null && isYesNoChoice(m); }));
  assert.ok(asOptions(withOptions, 'mcq') && asOptions(withOptions, 'description_text'));
  // 'text': the form only in questions answered from a description, none about a picture.
  const textOnly = [...buildInstructionCorpus({ seed: 3, count: 600, mix: { mcq: 1, description_text: 1 }, yesNoOptions: 'text' })];
  assert.ok(!asOptions(textOnly, 'mcq') && asOptions(textOnly, 'description_text'));
});

test('counting and existence answers match the scene', () => {
  const numbers = ['Zero', 'One', 'Two', 'Three'];
  let checked = 0;
  for (const s of samples.filter((x) => x.task === 'counting' || x.task === 'existence')) {
    const d = sceneOf(s);
    const inds = d.entities.map(entityIndividual);
    for (const t of s.turns) {
      const count = /^How many (\w+(?: \w+)?) (?:are in|can you see)/.exec(t.user);
      if (count) {
        const plural = count[1];
        const kind = KINDS.find((k) => KIND_NOUNS[k].plural === plural);
        const n = kind ? inds.filter((i) => i.kind === kind).length : inds.filter((i) => `${typeNoun(i)}s` === plural || (plural === 'men' && typeNoun(i) === 'man') || (plural === 'women' && typeNoun(i) === 'woman')).length;
        assert.equal(t.assistant, numbers[n], t.user);
        checked++;
      }
      const exists = /^Is there an? (\w+(?: \w+)?) in (?:the image|this photo|the picture)\?$/.exec(t.user);
      if (exists && !/ in a /.test(t.user)) {
        const noun = exists[1];
        const kind = KINDS.find((k) => KIND_NOUNS[k].singular === noun || (k === 'character' && noun === 'fictional character'));
        if (kind || inds.some((i) => typeNoun(i) === noun) || KINDS.some((k) => KIND_SCHEMAS[k].some((a) => a.values.includes(noun)))) {
          const isTypeNoun = !kind && KINDS.some((k) => KIND_SCHEMAS[k][0].values.includes(noun));
          if (kind || isTypeNoun) {
            const present = kind ? inds.some((i) => i.kind === kind) : inds.some((i) => typeNoun(i) === noun);
            assert.equal(t.assistant, present ? 'Yes' : 'No', t.user);
            checked++;
          }
        }
      }
    }
  }
  assert.ok(checked > 50, `${checked}`);
});

test('no individual is taught by name: names are placeholders that change from sample to sample', () => {
  const namesByIndividual = new Map<string, Set<string>>();
  const used = new Set<string>();
  for (const s of samples.filter((x) => x.named)) {
    const name = /^(<[a-z]+>) is /.exec(s.turns[0].user)![1];
    used.add(name);
    const key = JSON.stringify(s.named);
    namesByIndividual.set(key, (namesByIndividual.get(key) ?? new Set()).add(name));
  }
  assert.ok(used.size >= PLACEHOLDER_NAMES.length - 2);
  // No text outside a "<name> is <description>." prompt mentions a name.
  for (const s of samples.filter((x) => !x.named)) for (const t of s.turns) assert.doesNotMatch(t.user + t.assistant, /<[a-z]+>/);
  // Individuals are drawn afresh: the same one rarely comes back, and then under another name.
  const named = samples.filter((x) => x.named).length;
  assert.ok(namesByIndividual.size > named * 0.9, `${namesByIndividual.size} individuals in ${named} samples`);
});

test('recognition_pair: two descriptions a look-alike apart, Yes exactly for the one in the picture', () => {
  const only = [...buildInstructionCorpus({ seed: 6, count: 300, mix: Object.fromEntries(CORPUS_TASKS.map((t) => [t, t === 'recognition_pair' ? 1 : 0])) })];
  const split = createWorldSplit(0);
  let pairs = 0;
  const shown = { named: 0, lookAlike: 0, neither: 0 };
  for (const s of only) {
    // The rare fallback (no look-alike allowed) is a plain recognition sample.
    if (s.task === 'recognition') continue;
    assert.equal(s.task, 'recognition_pair');
    pairs++;
    assert.equal(s.turns.length, 2);
    const m = /^(<[a-z]+>) is (.+?)\. (<[a-z]+>) is (.+?)\. Can you see if (<[a-z]+>) is in this photo\? Answer with a single word or phrase\.$/.exec(s.turns[0].user);
    assert.ok(m, s.turns[0].user);
    const described = new Map([[m[1], m[2]], [m[3], m[4]]]);
    assert.notEqual(m[1], m[3]);
    assert.ok(describeIndividual(s.named!) === m[2] || describeIndividual(s.named!) === m[4]);
    const second = /^Can you see if (<[a-z]+>) is in this photo\? Answer with a single word or phrase\.$/.exec(s.turns[1].user);
    assert.ok(second, s.turns[1].user);
    assert.deepEqual(new Set([m[5], second[1]]), new Set(described.keys()), 'each name asked once');
    const entities = sceneOf(s).entities;
    assert.equal(entities.length, 1);
    const inPicture = entityIndividual(entities[0]);
    assert.notEqual(m[2], m[4]);
    [m[5], second[1]].forEach((name, k) => {
      const present = entities[0].description === described.get(name);
      assert.equal(s.turns[k].assistant, present ? 'Yes' : 'No', `${s.turns[0].user} → ${s.turns[k].assistant}`);
    });
    const yes = s.turns.filter((t) => t.assistant === 'Yes').length;
    assert.ok(yes <= 1);
    if (yes === 0) shown.neither++;
    else if (entities[0].description === describeIndividual(s.named!)) shown.named++;
    else shown.lookAlike++;
    // The look-alike differs from the named individual in one or two attributes.
    const other = [...described.values()].find((d) => d !== describeIndividual(s.named!))!;
    const lookAlike = inPicture.kind === s.named!.kind && entities[0].description === other ? inPicture : null;
    if (lookAlike) {
      const differing = KIND_SCHEMAS[lookAlike.kind].filter((a) => lookAlike.attributes[a.name] !== s.named!.attributes[a.name]).length;
      assert.ok(differing >= 1 && differing <= 2, `${differing} attributes apart`);
    }
    assert.ok(!split.isHeldOut(inPicture) && !split.isHeldOut(s.named!), 'a held-out individual appeared');
    for (const t of s.turns) assert.deepEqual(unknownWords(t.user), [], t.user);
  }
  assert.ok(pairs > 280, `${pairs} pairs`);
  assert.ok(shown.named > pairs * 0.35 && shown.lookAlike > pairs * 0.35 && shown.neither > 10, JSON.stringify(shown));
});

test('recognition_explained: Yes exactly for the described individual, else every clause names a true difference', () => {
  const only = [...buildInstructionCorpus({ seed: 7, count: 300, mix: Object.fromEntries(CORPUS_TASKS.map((t) => [t, t === 'recognition_explained' ? 1 : 0])) })];
  const split = createWorldSplit(0);
  const counts = { yes: 0, lookAlike: 0, otherKind: 0 };
  for (const s of only) {
    assert.equal(s.task, 'recognition_explained');
    assert.equal(s.turns.length, 1);
    const [turn] = s.turns;
    const m = /^(<[a-z]+>) is (.+?)\. Is (<[a-z]+>) in this photo\? Give details\.$/.exec(turn.user);
    assert.ok(m, turn.user);
    const [, name, description, asked] = m;
    assert.equal(asked, name);
    assert.equal(description, describeIndividual(s.named!));
    const entities = sceneOf(s).entities;
    assert.equal(entities.length, 1, 'only the described individual or its stand-in is in the picture');
    const inPicture = entityIndividual(entities[0]);
    assert.ok(!split.isHeldOut(inPicture) && !split.isHeldOut(s.named!), 'a held-out individual appeared');
    assert.deepEqual(unknownWords(turn.assistant), [], turn.assistant);
    if (entities[0].description === description) {
      counts.yes++;
      assert.match(turn.assistant, new RegExp(`^Yes\\. ${name} is the .+ in this photo\\.$`));
      continue;
    }
    if (inPicture.kind === s.named!.kind) counts.lookAlike++;
    else counts.otherKind++;
    assert.match(turn.assistant, /^No\. /);
    const clauses = turn.assistant.slice(4, -1).split('. ');
    assert.ok(clauses.length >= 1);
    for (const clause of clauses) {
      const head = new RegExp(`^${name} is (.+), and this is (.+)$`).exec(clause);
      const feature = new RegExp(`^${name} has (.+), and the (.+) in this photo has (.+)$`).exec(clause);
      assert.ok(head || feature, clause);
      if (head) {
        assert.notEqual(head[1], head[2]);
        assert.ok(description.startsWith(head[1]), `${clause} / ${description}`);
        assert.ok(entities[0].description.startsWith(head[2]), `${clause} / ${entities[0].description}`);
      } else {
        assert.notEqual(feature![1], feature![3]);
        assert.equal(feature![2], typeNoun(inPicture));
        // A feature either side has is written in its description; a missing one reads "no …" / "nothing …".
        for (const [phrase, whole] of [[feature![1], description], [feature![3], entities[0].description]]) {
          assert.ok(whole.includes(phrase) || /^(no|nothing) /.test(phrase), `${clause} / ${whole}`);
        }
      }
    }
  }
  assert.ok(counts.yes > 110 && counts.yes < 190, JSON.stringify(counts));
  assert.ok(counts.lookAlike > counts.otherKind * 4, JSON.stringify(counts));
});

test('description_recall: the whole description asked back with no picture, in both forms, in the world\'s words', () => {
  const only = [...buildInstructionCorpus({ seed: 7, count: 200, mix: Object.fromEntries(CORPUS_TASKS.map((t) => [t, t === 'description_recall' ? 1 : 0])) })];
  const forms = { lookLike: 0, describe: 0 };
  for (const s of only) {
    assert.equal(s.task, 'description_recall');
    assert.equal(s.image, undefined);
    assert.equal(s.turns.length, 1);
    const [turn] = s.turns;
    const m = /^(<[a-z]+>) is (.+?)\. (What does (<[a-z]+>) look like\?|Describe (<[a-z]+>)\.)$/.exec(turn.user);
    assert.ok(m, turn.user);
    const [, name, description, , lookLikeName, describeName] = m;
    assert.equal(description, describeIndividual(s.named!));
    if (lookLikeName) {
      forms.lookLike++;
      assert.equal(lookLikeName, name);
      assert.equal(turn.assistant, `${description[0].toUpperCase()}${description.slice(1)}.`);
    } else {
      forms.describe++;
      assert.equal(describeName, name);
      assert.equal(turn.assistant, `${name} is ${description}.`);
    }
    assert.deepEqual(unknownWords(turn.user), [], turn.user);
    assert.deepEqual(unknownWords(turn.assistant), [], turn.assistant);
  }
  assert.ok(forms.lookLike > 70 && forms.describe > 70, JSON.stringify(forms));
});
