/**
 * How to run the `mock-engine` executable from Node, and the argument template for engine profiles.
 */
import * as SourceBundle from "@llama-orch/daemon-kit/SourceBundle"
import * as Option from "effect/Option"
import { createRequire } from "node:module"
import { fileURLToPath, pathToFileURL } from "node:url"

/**
 * A command line: the program and its arguments.
 *
 * @category models
 * @since 0.1.0
 */
export interface EngineCommandLine {
  readonly command: string
  readonly args: ReadonlyArray<string>
}

/** tsx's loader as an absolute file URL, so it resolves from any working directory. */
const tsxLoader = (): string => {
  try {
    return pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href
  } catch {
    return "tsx"
  }
}

/**
 * The command that runs the mock engine with the current Node binary: the built `dist/bin.js`, or,
 * when this module is itself running from its TypeScript sources, those sources (transpiled once into
 * `node_modules/.cache`, falling back to tsx). Append the engine's flags (e.g. `--port 0`) to `args`.
 *
 * @category utils
 * @since 0.1.0
 */
export const mockEngineCommand = (): EngineCommandLine => {
  const here = import.meta.url
  if (here.endsWith(".ts")) {
    const source = fileURLToPath(new URL("./bin.ts", here))
    return {
      command: process.execPath,
      args: Option.match(SourceBundle.bundledEntrySync(source), {
        onNone: () => ["--conditions=@llama-orch/source", "--import", tsxLoader(), source],
        onSome: (bundle) => [bundle]
      })
    }
  }
  return { command: process.execPath, args: [fileURLToPath(new URL("./bin.js", here))] }
}

/**
 * The argument template for an engine profile that runs the mock engine; the placeholders are filled
 * in by the pool manager. Prepend `mockEngineCommand().args` and append any fault-injection flags.
 *
 * @category utils
 * @since 0.1.0
 */
export const mockEngineProfileArgs: ReadonlyArray<string> = [
  "--host",
  "{host}",
  "--port",
  "{port}",
  "--model",
  "{model}",
  "--slots",
  "{slots}",
  "--ctx",
  "{ctx}"
]
