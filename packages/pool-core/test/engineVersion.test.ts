import { NodeContext } from "@effect/platform-node"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { EngineProfile } from "../src/index.js"
import { detectEngineVersion, versionLine } from "../src/internal/engineVersion.js"

const printing = (script: string) =>
  new EngineProfile({ name: "e", protocol: "llamacpp", command: "sh", versionArgs: ["-c", script] })

describe("engine version", () => {
  it("takes the version line from either stream, else the first line", () => {
    expect(versionLine([], ["ggml_cuda_init: found 1 CUDA devices", "version: 4589 (d2fe216f)", "built with cc"]))
      .toBe("version: 4589 (d2fe216f)")
    expect(versionLine(["", "vllm 0.6.3"], [])).toBe("vllm 0.6.3")
    expect(versionLine([], ["", "TGI 2.4.0"])).toBe("TGI 2.4.0")
    expect(versionLine([], [])).toBe("unknown")
  })

  it.effect("reads llama-server's version from stderr, where it prints it", () =>
    Effect.gen(function*() {
      const executor = yield* CommandExecutor.CommandExecutor
      const llamaServer = printing(
        "echo 'ggml_cuda_init: found 1 CUDA devices:' >&2; echo 'version: 4589 (d2fe216f)' >&2; echo 'built with cc' >&2"
      )
      expect(yield* detectEngineVersion(executor, llamaServer, 5_000)).toBe("version: 4589 (d2fe216f)")
      // and with the engines' clean environment: no daemon secret reaches the version command either
      process.env["POOL_MANAGERD_TOKEN"] = "version-probe-secret"
      try {
        const leaky = printing("echo \"${POOL_MANAGERD_TOKEN:-none}\"")
        expect(yield* detectEngineVersion(executor, leaky, 5_000)).toBe("none")
      } finally {
        delete process.env["POOL_MANAGERD_TOKEN"]
      }
    }).pipe(Effect.provide(NodeContext.layer)))
})
