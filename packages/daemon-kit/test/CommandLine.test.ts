import { describe, expect, it } from "@effect/vitest"
import { CommandLine, ProgramExit } from "@llama-orch/daemon-kit"
import { Either, LogLevel, Option } from "effect"

const conventions = (...args: ReadonlyArray<string>) => CommandLine.applyConventions(args)

describe("CommandLine.applyConventions", () => {
  it("takes --log-level out wherever it is, in both spellings; the last one wins", () => {
    expect(conventions("--port", "0", "--log-level", "debug")).toEqual(
      Either.right({ args: ["--port", "0"], logLevel: Option.some(LogLevel.Debug) })
    )
    expect(conventions("--log-level=warning", "--config", "f.yaml", "--LOG-LEVEL", "Error")).toEqual(
      Either.right({ args: ["--config", "f.yaml"], logLevel: Option.some(LogLevel.Error) })
    )
    expect(conventions("--port", "0")).toEqual(Either.right({ args: ["--port", "0"], logLevel: Option.none() }))
  })

  it("leaves everything after -- alone", () => {
    expect(conventions("--port", "0", "--", "--log-level", "debug", "--wizard")).toEqual(
      Either.right({ args: ["--port", "0", "--", "--log-level", "debug", "--wizard"], logLevel: Option.none() })
    )
  })

  it("refuses --wizard and a missing or unknown level with a UsageError naming the flag", () => {
    const message = (result: Either.Either<CommandLine.Conventions, ProgramExit.UsageError>) =>
      Either.match(result, { onLeft: (error) => `${error._tag}: ${error.message}`, onRight: () => "accepted" })
    expect(message(conventions("--port", "0", "--wizard"))).toMatch(/^UsageError: --wizard is not available/)
    expect(message(conventions("--Wizard"))).toMatch(/^UsageError: --wizard is not available/)
    expect(message(conventions("--log-level", "loud"))).toBe(
      "UsageError: --log-level must be one of all, trace, debug, info, warning, error, fatal, none, not 'loud'"
    )
    expect(message(conventions("--port", "0", "--log-level"))).toMatch(/^UsageError: --log-level needs a value/)
  })
})

describe("ProgramExit.oneLine", () => {
  it("joins a message's lines into one, after a colon with a space, otherwise with '; ', without colours", () => {
    expect(ProgramExit.oneLine("invalid configuration in f.yaml:\n  port: too big\n  host: empty\n")).toBe(
      "invalid configuration in f.yaml: port: too big; host: empty"
    )
    expect(ProgramExit.oneLine("\u001b[31;1m'abc' is not a integer\u001b[0m\n\n")).toBe("'abc' is not a integer")
  })
})
