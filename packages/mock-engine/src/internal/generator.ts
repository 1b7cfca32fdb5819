/**
 * Deterministic fake text: the same (prompt, seed) always yields the same tokens.
 *
 * @internal
 */

/** Why a generation ended, in llama-server's words. */
export type StopType = "limit" | "word" | "eos"

/** A generation planned ahead: the token pieces to emit and how it ends. */
export interface Plan {
  /** Text of each emitted token (the last one may be cut short by a stop string). */
  readonly pieces: ReadonlyArray<string>
  readonly stopType: StopType
  /** The stop string that matched, or "" */
  readonly stoppingWord: string
}

/** What to generate. `maxTokens < 0` means "until end of sequence". */
export interface PlanRequest {
  readonly prompt: string
  readonly seed: number
  readonly maxTokens: number
  readonly stop: ReadonlyArray<string>
  /** Upper bound from the context size. */
  readonly ctxLeft: number
}

const vocabulary: ReadonlyArray<string> = [
  "the",
  "a",
  "model",
  "token",
  "stream",
  "engine",
  "pool",
  "slot",
  "queue",
  "fast",
  "slow",
  "light",
  "river",
  "stone",
  "cloud",
  "signal",
  "answer",
  "question",
  "local",
  "mock",
  "tiny",
  "large",
  "quiet",
  "bright",
  "and",
  "of",
  "to",
  "in",
  "is",
  "was",
  "runs",
  "waits",
  "reads",
  "writes",
  "over",
  "under",
  "near",
  "far",
  "blue",
  "green",
  "red",
  "seven",
  "three",
  "one",
  "many",
  "few",
  "time",
  "space",
  "lamp",
  "llama",
  "orchard",
  "field",
  "wind",
  "glass",
  "paper",
  "code",
  "test",
  "proof",
  "ready",
  "drain",
  "load",
  "warm",
  "cold",
  "end"
]

/** FNV-1a over the UTF-16 code units of a string, mixed with the seed. */
const hash = (text: string, seed: number): number => {
  let h = 0x811c9dc5 ^ (seed >>> 0)
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** mulberry32: a tiny, good-enough 32-bit PRNG. */
const prng = (state: number) => {
  let a = state
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
}

/** Roughly how many tokens a text is: one per four characters, rounded up. */
export const countTokens = (text: string): number => Math.ceil(text.length / 4)

/** Plans a generation: words from a fixed vocabulary, each with a leading space. */
export const plan = (request: PlanRequest): Plan => {
  const next = prng(hash(request.prompt, request.seed))
  const eosAfter = 8 + (next() % 57)
  const wanted = request.maxTokens < 0 ? eosAfter : request.maxTokens
  const count = Math.max(0, Math.min(wanted, request.ctxLeft))
  const stopType: StopType = request.maxTokens < 0 && count === eosAfter ? "eos" : "limit"
  const pieces = Array.from({ length: count }, () => ` ${vocabulary[next() % vocabulary.length]}`)
  const match = firstStop(pieces.join(""), request.stop)
  if (match === undefined) return { pieces, stopType, stoppingWord: "" }
  // Like llama-server: generation ends with the token that completes the stop string, and the
  // text from the stop string on is never sent.
  const kept: Array<string> = []
  let offset = 0
  for (const piece of pieces) {
    kept.push(piece.slice(0, Math.max(0, match.index - offset)))
    offset += piece.length
    if (offset >= match.end) break
  }
  return { pieces: kept, stopType: "word", stoppingWord: match.word }
}

/** The stop string that is complete first in `text` (the one a streaming engine would see first). */
const firstStop = (
  text: string,
  stops: ReadonlyArray<string>
): { readonly index: number; readonly end: number; readonly word: string } | undefined => {
  let best: { readonly index: number; readonly end: number; readonly word: string } | undefined
  for (const word of stops) {
    const index = word.length === 0 ? -1 : text.indexOf(word)
    if (index >= 0 && (best === undefined || index + word.length < best.end)) {
      best = { index, end: index + word.length, word }
    }
  }
  return best
}
