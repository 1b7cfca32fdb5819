/**
 * A fake LLM inference engine process speaking llama-server's and the OpenAI HTTP protocols, with
 * fault injection, and the helpers to run it from Effect code.
 *
 * @module @llama-orch/mock-engine
 * @since 0.1.0
 */

/** Spawn real mock engine processes in a scope: `MockEngine.start(options)`. */
export * as MockEngine from "./MockEngine.js"

/** The command line that runs the mock engine with Node (from source or from the built package). */
export { mockEngineCommand } from "./engineCommand.js"

/** The engine-profile argument template (`--host {host} --port {port} ...`). */
export { mockEngineProfileArgs } from "./engineCommand.js"

/** A program and its arguments. */
export type { EngineCommandLine } from "./engineCommand.js"

/** A ready `EngineProfile` that runs the mock engine (command, template, API key, health path, version). */
export { mockEngineProfile, type MockEngineProfileOptions } from "./profile.js"
