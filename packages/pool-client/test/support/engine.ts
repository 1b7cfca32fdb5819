/**
 * The engine profile the contract suite runs: the real mock engine behind a tiny shell wrapper that
 * fails to start for any model whose name begins with `broken` (so a reload can fail on demand).
 */
import { mockEngineCommand, mockEngineProfileArgs } from "@llama-orch/mock-engine"
import { EngineProfile } from "@llama-orch/pool-core"

const mock = mockEngineCommand()

const wrapper = [
  "case \"$1\" in broken*) echo \"error loading model $1: simulated failure\" >&2; exit 3;; esac",
  "shift",
  "exec \"$@\""
].join("\n")

/** The profile name the contract suite registers pools with. */
export const contractEngine = "mock"

/** The contract suite's engine profile (as a plain object, for YAML configs too). */
export const contractProfileFields = {
  name: contractEngine,
  protocol: "llamacpp" as const,
  command: "/bin/sh",
  args: ["-c", wrapper, "sh", "{model}", mock.command, ...mock.args, ...mockEngineProfileArgs]
}

/** The contract suite's engine profile. */
export const contractProfile = new EngineProfile(contractProfileFields)
