/**
 * The HTTP server: the model and the concept library behind a small JSON API, and the web UI.
 *
 *   GET  /                  the web UI (src/server/web/)
 *   GET  /api/model         the loaded base model
 *   GET  /api/concepts      the library's concepts, and whether each fits the loaded model
 *   POST /api/chat          { messages, image?, concepts?, maxTokens?, temperature?, topP?, seed?, system?, personalize?, stream? }
 *   POST /api/recognize     { concept, images, threshold?, question? }
 *   POST /api/concepts      { name, photos, subject?, description?, epochs? }: learns a concept (NDJSON progress)
 *   DELETE /api/concepts/<name>
 *   PATCH  /api/concepts/<name>        { name }: renames it (its tokens too)
 *   GET    /api/concepts/<name>/file   the portable concept file (as `yollava concepts export`)
 *   POST   /api/concepts/import        { file, name?, overwrite? }: adds a concept file (base64 or a data URL)
 *
 * One model, one request at a time: requests queue (the engine already uses every core for one).
 * A client that goes away stops its generation. Errors are JSON `{ "error": "…" }` with a status.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeImage } from '../models/image/decodeImage.ts';
import { writePng } from '../models/image/encodePng.ts';
import type { RgbImage } from '../models/image/RgbImage.ts';
import type { ChatTurn, VisionLanguageModel } from '../models/VisionLanguageModel.ts';
import { Concept } from '../personalize/Concept.ts';
import { checkConceptName } from '../personalize/conceptData.ts';
import { assertTrainablePromptFormat } from '../personalize/conceptPrompts.ts';
import { createConcept } from '../personalize/createConcept.ts';
import type { ConceptLibrary } from '../personalize/ConceptLibrary.ts';
import { ConceptSet, PERSONALIZATION_MODES, personalizationMode } from '../personalize/ConceptSet.ts';
import { modelIdentity, sameModel } from '../personalize/modelIdentity.ts';
import { isInputError } from '../personalize/inputErrors.ts';
import { recognitionQuestionText, recognize } from '../personalize/recognize.ts';
import { questionWithPlaceholder } from '../personalize/recognitionTemplates.ts';
import { field, HttpError, readJsonBody, sendJson } from './httpBody.ts';

export interface YollavaServerOptions {
  readonly vlm: VisionLanguageModel;
  readonly library: ConceptLibrary;
  /** A folder of other images that concepts learned here draw negatives from (as `yollava train -n`). */
  readonly negativePool?: string;
  /** Largest request body (photos travel as base64 in JSON). Default 32 MiB. */
  readonly maxBodyBytes?: number;
  /** Longest answer a request may ask for. Default 1024 tokens. */
  readonly maxNewTokensLimit?: number;
  /** One line per request and per failure; default none. */
  readonly log?: (line: string) => void;
}

const WEB_DIR = join(dirname(fileURLToPath(import.meta.url)), 'web');
const WEB_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

/** Runs tasks one after another. */
class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private waitingCount = 0;

  get waiting(): number { return this.waitingCount; }

  run<T>(task: () => Promise<T>): Promise<T> {
    this.waitingCount++;
    const start = () => { this.waitingCount--; return task(); };
    const result = this.tail.then(start, start);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

export class YollavaServer {
  readonly server: Server;
  private readonly vlm: VisionLanguageModel;
  private readonly library: ConceptLibrary;
  private readonly concepts: ConceptSet;
  /** Attached concepts' file versions: a concept retrained while the server runs is attached again. */
  private readonly attachedVersions = new Map<string, string>();
  private readonly queue = new SerialQueue();
  private readonly maxBodyBytes: number;
  private readonly maxNewTokensLimit: number;
  private readonly negativePool: string | undefined;
  private readonly log: (line: string) => void;

  constructor(options: YollavaServerOptions) {
    this.vlm = options.vlm;
    this.library = options.library;
    this.concepts = new ConceptSet(options.vlm);
    this.maxBodyBytes = options.maxBodyBytes ?? 32 * 1024 * 1024;
    this.maxNewTokensLimit = options.maxNewTokensLimit ?? 1024;
    this.negativePool = options.negativePool;
    this.log = options.log ?? (() => {});
    this.server = createServer((request, response) => { void this.handle(request, response); });
  }

  /** Starts listening; resolves to the base URL (port 0 picks a free port). */
  listen(port: number, host = '127.0.0.1'): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const address = this.server.address() as AddressInfo;
        const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
        resolve(`http://${shownHost}:${address.port}`);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = performance.now();
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    let failure = '';
    try {
      await this.route(request.method ?? 'GET', path, request, response);
    } catch (error) {
      const status = error instanceof HttpError ? error.status : isInputError(error) ? 400 : 500;
      const message = (error as Error).message;
      if (status === 500) this.log(`error in ${request.method} ${path}: ${(error as Error).stack ?? message}`);
      else failure = `: ${message}`;
      if (!response.headersSent) sendJson(response, status, { error: message });
      else if (!response.writableEnded) response.end(JSON.stringify({ error: message }) + '\n');
    }
    this.log(`${request.method} ${path} ${response.statusCode} ${Math.round(performance.now() - started)} ms${failure}`);
  }

  private async route(method: string, path: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const web = WEB_FILES[path];
    if (web) {
      if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, `${path} answers GET only`);
      const body = readFileSync(join(WEB_DIR, web.file));
      response.writeHead(200, { 'Content-Type': web.type, 'Content-Length': body.length, 'Cache-Control': 'no-cache' });
      response.end(method === 'HEAD' ? undefined : body);
      return;
    }
    const conceptPath = /^\/api\/concepts\/([^/]+)$/.exec(path);
    const conceptFilePath = /^\/api\/concepts\/([^/]+)\/file$/.exec(path);
    const routes: { path: string; method: string; run: () => Promise<void> }[] = [
      { path: '/api/model', method: 'GET', run: async () => sendJson(response, 200, this.modelInfo()) },
      { path: '/api/concepts', method: 'GET', run: async () => sendJson(response, 200, { concepts: this.conceptList(), negativePool: this.negativePool ?? null }) },
      { path: '/api/concepts', method: 'POST', run: () => this.learnConcept(request, response) },
      { path: '/api/chat', method: 'POST', run: () => this.chat(request, response) },
      { path: '/api/recognize', method: 'POST', run: () => this.recognize(request, response) },
      { path: '/api/concepts/import', method: 'POST', run: () => this.importConcept(request, response) },
      ...(conceptPath ? [
        { path, method: 'DELETE', run: () => this.deleteConcept(decodePathPart(conceptPath[1]), response) },
        { path, method: 'PATCH', run: () => this.renameConcept(decodePathPart(conceptPath[1]), request, response) },
      ] : []),
      ...(conceptFilePath ? [{ path, method: 'GET', run: () => this.exportConcept(decodePathPart(conceptFilePath[1]), response) }] : []),
    ];
    const matching = routes.filter((r) => r.path === path);
    if (matching.length === 0) throw new HttpError(404, `no such path: ${path}`);
    const route = matching.find((r) => r.method === method);
    if (!route) throw new HttpError(405, `${path} answers ${matching.map((r) => r.method).join(' and ')} only`);
    await route.run();
  }

  /** Deletes a concept from the library (its training data and uploaded photos too), after the requests before it. */
  private async deleteConcept(name: string, response: ServerResponse): Promise<void> {
    const [plain] = this.requireConcepts([name]);
    await this.queue.run(async () => {
      this.detach(plain);
      this.library.delete(plain);
      sendJson(response, 200, { deleted: `<${plain}>` });
    });
  }

  /** Renames a concept and its tokens (`<old>` → `<new>`), after the requests before it. */
  private async renameConcept(name: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readJsonBody(request, this.maxBodyBytes);
    const to = field.string(body, 'name')?.replace(/^<(.*)>$/, '$1');
    if (!to) throw new HttpError(400, '"name" (the new name) is required');
    checkConceptName(to);
    const [from] = this.requireConcepts([name]);
    await this.queue.run(async () => {
      if (to !== from) {
        if (this.library.has(to)) throw new HttpError(409, `a concept named "${to}" already exists in the library; choose another name`);
        this.detach(from);
        this.library.rename(from, to);
      }
      sendJson(response, 200, { renamed: { from: `<${from}>`, to: `<${to}>` }, concept: this.conceptList().find((c) => c.name === to) });
    });
  }

  /** The concept file itself, to save and import elsewhere (the training data stays here). */
  private async exportConcept(name: string, response: ServerResponse): Promise<void> {
    const [plain] = this.requireConcepts([name]);
    const body = readFileSync(this.library.conceptFile(plain));
    response.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': body.length,
      'Content-Disposition': `attachment; filename="${plain}.concept.safetensors"`,
      'Cache-Control': 'no-store',
    });
    response.end(body);
  }

  /** Adds an uploaded concept file to the library, under its own name or `name`. */
  private async importConcept(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readJsonBody(request, this.maxBodyBytes);
    const fileText = field.string(body, 'file');
    if (!fileText) throw new HttpError(400, '"file" (a concept file, base64 or a data URL) is required');
    const newName = field.string(body, 'name')?.replace(/^<(.*)>$/, '$1');
    if (newName !== undefined) checkConceptName(newName);
    const overwrite = field.boolean(body, 'overwrite') ?? false;
    const bytes = base64Payload(fileText, '"file"');
    await this.queue.run(async () => {
      mkdirSync(this.library.dir, { recursive: true });
      // Concept.load reads a path; the upload waits beside the library until it is checked and copied in.
      const upload = join(this.library.dir, `.import-${process.pid}-${Date.now()}.tmp`);
      writeFileSync(upload, bytes);
      try {
        let uploaded: Concept;
        try {
          uploaded = Concept.load(upload);
        } catch (error) {
          if (isInputError(error)) throw new HttpError(400, error.message.split(upload).join('the uploaded file'));
          throw error;
        }
        const name = newName ?? uploaded.name;
        if (this.library.has(name) && !overwrite) throw new HttpError(409, `a concept named "${name}" already exists in the library; import it under another name or overwrite it`);
        this.detach(name);
        const concept = this.library.add(uploaded, { name, overwrite });
        sendJson(response, 200, { imported: concept.identifier, concept: this.conceptList().find((c) => c.name === concept.name) });
      } finally {
        rmSync(upload, { force: true });
      }
    });
  }

  private modelInfo() {
    const config = this.vlm.config;
    return {
      source: this.vlm.source,
      promptFormat: this.vlm.promptFormat,
      imageTokens: this.vlm.model.imageTokenCount,
      vocabSize: this.vlm.model.vocabSize,
      hiddenSize: this.vlm.model.hiddenSize,
      decoder: config.text.kind,
      queued: this.queue.waiting,
    };
  }

  private conceptList() {
    const identity = modelIdentity(this.vlm.model);
    return this.library.list().map(({ name, info }) => {
      const best = info.bestEpoch === null ? undefined : info.epochs.find((e) => e.epoch === info.bestEpoch);
      return {
        name,
        identifier: `<${name}>`,
        latentTokens: info.latentCount,
        createdAt: info.createdAt,
        baseModel: info.baseModel.source,
        fitsModel: sameModel(info.baseModel, identity),
        recognitionAccuracy: best?.weightedAccuracy ?? null,
      };
    });
  }

  /** Concept names without the brackets; 404 for one the library lacks. */
  private requireConcepts(names: readonly string[]): string[] {
    const plain = names.map((n) => n.replace(/^<(.*)>$/, '$1'));
    for (const name of plain) {
      checkConceptName(name); // letters, digits, '_' and '-' only: a name never reaches outside the library folder
      if (!this.library.has(name)) throw new HttpError(404, `no concept "${name}" in the library (have: ${this.library.list().map((e) => e.name).join(', ') || 'none'})`);
    }
    return plain;
  }

  /** Attaches the named concepts, loading or reloading them from the library. */
  private attach(names: readonly string[]): string[] {
    const plain = this.requireConcepts(names);
    for (const name of plain) {
      const stat = statSync(this.library.conceptFile(name));
      const version = `${stat.mtimeMs}:${stat.size}`;
      if (this.attachedVersions.get(name) === version) continue;
      this.detach(name);
      this.concepts.add(this.library.load(name));
      this.attachedVersions.set(name, version);
    }
    return plain;
  }

  private detach(name: string): void {
    if (!this.attachedVersions.delete(name)) return;
    this.concepts.remove(name);
  }

  private async chat(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readJsonBody(request, this.maxBodyBytes);
    const turns = chatTurns(body.messages);
    const names = field.strings(body, 'concepts');
    const imageText = field.string(body, 'image');
    const maxNewTokens = field.number(body, 'maxTokens', (x) => Number.isInteger(x) && x > 0 && x <= this.maxNewTokensLimit, `an integer from 1 to ${this.maxNewTokensLimit}`) ?? 256;
    const temperature = field.number(body, 'temperature', (x) => x >= 0, 'a number ≥ 0') ?? 0;
    const topP = field.number(body, 'topP', (x) => x > 0 && x <= 1, 'a number in (0, 1]') ?? 1;
    const seed = field.number(body, 'seed', Number.isInteger, 'an integer') ?? 0;
    const system = field.string(body, 'system');
    const personalizeField = field.string(body, 'personalize');
    const personalize = personalizationMode(personalizeField);
    if (personalize === null) throw new HttpError(400, `"personalize" must be ${PERSONALIZATION_MODES.map((m) => `"${m}"`).join(' or ')}, got ${JSON.stringify(personalizeField)}`);
    const stream = field.boolean(body, 'stream') ?? false;
    this.requireConcepts(names);
    const image = imageText === undefined ? null : await decodeUpload(imageText, 'the image');

    const abort = abortWhenClientLeaves(response);
    await this.queue.run(async () => {
      if (abort.signal.aborted) return;
      const attached = this.attach(names);
      const texts = turns.flatMap((turn) => [turn.user, turn.assistant ?? '']);
      const personalized = this.concepts.personalizedConcepts(texts, personalize, attached);
      const personalization = personalized.map((c) => c.personalization).join(' ') || undefined;
      const prompt = this.vlm.prompt(turns, { image: image !== null, personalization, system });
      const features = image ? [await this.vlm.imageFeatures(image)] : [];
      if (stream) response.writeHead(200, { 'Content-Type': 'application/x-ndjson; charset=utf-8', 'Cache-Control': 'no-store' });
      const result = await this.vlm.generate(prompt, features, {
        maxNewTokens, temperature, topP, seed, signal: abort.signal, extra: this.concepts.extraTokens(), stopStrings: ['USER:', '</s>'],
        onText: stream ? (text) => response.write(JSON.stringify({ text }) + '\n') : undefined,
      });
      const final = { text: result.text, promptTokens: result.promptTokens, newTokens: result.ids.length, stoppedBy: result.stoppedBy, personalized: personalized.map((c) => c.identifier) };
      if (stream) response.end(JSON.stringify({ done: true, ...final }) + '\n');
      else sendJson(response, 200, final);
    });
  }

  private async recognize(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readJsonBody(request, this.maxBodyBytes);
    const name = field.string(body, 'concept');
    if (!name) throw new HttpError(400, '"concept" (a concept name) is required');
    const images = field.strings(body, 'images');
    if (images.length === 0) throw new HttpError(400, '"images" must hold at least one image (a data URL or base64)');
    const threshold = field.number(body, 'threshold', (x) => x >= 0 && x <= 1, 'a probability in [0, 1]') ?? 0.5;
    const [plainName] = this.requireConcepts([name]);
    const question = field.string(body, 'question');
    const asked = question === undefined ? undefined : questionWithPlaceholder(question, `<${plainName}>`);
    if (asked === null) throw new HttpError(400, `"question" must name the concept as <${plainName}>, got ${JSON.stringify(question)}`);
    const decoded = await Promise.all(images.map((text, i) => decodeUpload(text, `images[${i}]`)));
    const abort = abortWhenClientLeaves(response);
    await this.queue.run(async () => {
      if (abort.signal.aborted) return;
      const [plain] = this.attach([name]);
      const concept = this.concepts.get(plain);
      const results = await recognize(this.vlm, this.concepts, concept, decoded.map((image, i) => ({ label: `images[${i}]`, image })), { signal: abort.signal, question: asked });
      sendJson(response, 200, {
        concept: concept.identifier,
        question: recognitionQuestionText(concept.identifier, asked),
        results: results.map((r, index) => ({ index, probability: r.probability, answer: r.probability >= threshold ? 'Yes' : 'No' })),
      });
    });
  }

  /**
   * Learns a concept from uploaded photos, as `yollava train` does (createConcept's defaults, the
   * server's negative pool), streaming its progress as NDJSON. The photos are kept in
   * `<library>/uploads/<name>-<time>/` (the training data refers to them). A client that goes
   * away stops it; once training has begun, the best epoch so far is saved (as Ctrl-C does in
   * `yollava train`).
   */
  private async learnConcept(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readJsonBody(request, this.maxBodyBytes);
    const name = field.string(body, 'name')?.replace(/^<(.*)>$/, '$1');
    if (!name) throw new HttpError(400, '"name" (the new concept\'s name) is required');
    checkConceptName(name);
    assertTrainablePromptFormat(this.vlm);
    if (this.library.has(name)) throw new HttpError(409, `a concept named "${name}" already exists in the library; choose another name`);
    const photos = field.strings(body, 'photos');
    if (photos.length === 0) throw new HttpError(400, '"photos" must hold at least one photo of the subject (data URLs or base64)');
    const subjectKind = field.string(body, 'subject') ?? 'subject';
    if (subjectKind !== 'subject' && subjectKind !== 'person') throw new HttpError(400, `"subject" must be "subject" or "person", got ${JSON.stringify(subjectKind)}`);
    const description = field.string(body, 'description');
    if (description !== undefined && description.trim() === '') throw new HttpError(400, '"description" needs some text (or leave it out: the base model describes the photos)');
    const epochs = field.number(body, 'epochs', (x) => Number.isInteger(x) && x >= 1 && x <= 50, 'an integer from 1 to 50');
    const decoded = await Promise.all(photos.map((text, i) => decodeUpload(text, `photos[${i}]`)));
    const abort = abortWhenClientLeaves(response);
    await this.queue.run(async () => {
      if (abort.signal.aborted) return;
      if (this.library.has(name)) throw new HttpError(409, `a concept named "${name}" already exists in the library; choose another name`);
      const folder = join(this.library.uploadsDir, `${name}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}`);
      const staging = `${folder}.${process.pid}.tmp`;
      mkdirSync(staging, { recursive: true });
      try {
        await Promise.all(decoded.map((image, i) => writePng(image, join(staging, `${i}.png`))));
        rmSync(folder, { recursive: true, force: true });
        renameSync(staging, folder);
      } catch (error) {
        rmSync(staging, { recursive: true, force: true });
        throw error;
      }
      const send = (line: unknown) => response.write(JSON.stringify(line) + '\n');
      response.writeHead(200, { 'Content-Type': 'application/x-ndjson; charset=utf-8', 'Cache-Control': 'no-store' });
      let saved = false;
      let lastStepSentMs = 0;
      try {
        const result = await createConcept(this.vlm, {
          name, photos: decoded.map((_, i) => join(folder, `${i}.png`)), negativePool: this.negativePool, subjectKind,
          description: description ?? true, signal: abort.signal, training: epochs === undefined ? undefined : { epochs },
          onProgress: (progress) => {
            // Training steps come hundreds a minute: a few lines a second are enough to show.
            const step = progress.stage === 'training' && progress.progress.phase === 'training';
            if (step && performance.now() - lastStepSentMs < 250) return;
            if (step) lastStepSentMs = performance.now();
            send({ progress });
          },
        });
        this.library.save(result.concept, result.data);
        saved = true;
        response.end(JSON.stringify({ done: true, interrupted: result.interrupted, concept: this.conceptList().find((c) => c.name === name) }) + '\n');
      } catch (error) {
        if (!abort.signal.aborted) throw error;
        response.end(); // the client is gone and stopped it before training began: nothing to save
      } finally {
        if (!saved) rmSync(folder, { recursive: true, force: true });
      }
    });
  }
}

/** Aborted when the client closes the connection before the response has ended. */
function abortWhenClientLeaves(response: ServerResponse): AbortController {
  const abort = new AbortController();
  response.on('close', () => { if (!response.writableEnded) abort.abort(); });
  return abort;
}

function decodePathPart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new HttpError(400, `the path part ${part} is not valid percent-encoding`);
  }
}

function chatTurns(messages: unknown): ChatTurn[] {
  if (!Array.isArray(messages) || messages.length === 0) throw new HttpError(400, '"messages" must be a non-empty list of { role, content }');
  const turns: ChatTurn[] = [];
  messages.forEach((message, i) => {
    const { role, content } = (message ?? {}) as { role?: unknown; content?: unknown };
    if (typeof content !== 'string') throw new HttpError(400, `messages[${i}].content must be a string`);
    const expected = i % 2 === 0 ? 'user' : 'assistant';
    if (role !== expected) throw new HttpError(400, `messages[${i}].role must be "${expected}" (messages alternate user, assistant, …), got ${JSON.stringify(role)}`);
    if (role === 'user') turns.push({ user: content });
    else turns[turns.length - 1] = { user: turns[turns.length - 1].user, assistant: content };
  });
  if (turns[turns.length - 1].assistant !== undefined) throw new HttpError(400, 'the last message must be the user\'s');
  return turns;
}

/** The bytes of a data URL ("data:<type>;base64,…") or of bare base64. */
function base64Payload(text: string, what: string, kind = 'data'): Buffer {
  const match = /^data:([^;,]*)(;base64)?,/.exec(text);
  if (match && !match[2]) throw new HttpError(400, `${what}: a data URL must be base64 ("data:<type>;base64,…")`);
  const payload = match ? text.slice(match[0].length) : text;
  if (!/^[A-Za-z0-9+/=\s_-]*$/.test(payload)) throw new HttpError(400, `${what}: not base64 ${kind}`);
  return Buffer.from(payload, 'base64');
}

/** Larger uploads are refused before decoding (a small compressed file can hold a huge picture). */
const MAX_UPLOAD_PIXELS = 40_000_000;

/** A photo sent as a data URL ("data:image/png;base64,…") or bare base64. */
async function decodeUpload(text: string, what: string): Promise<RgbImage> {
  const bytes = base64Payload(text, what, 'image data');
  try {
    return await decodeImage(bytes, { source: what, maxPixels: MAX_UPLOAD_PIXELS });
  } catch (error) {
    throw new HttpError(400, (error as Error).message);
  }
}
