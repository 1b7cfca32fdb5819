import type { Reporter, TestModule } from "vitest/node"

/**
 * Prints one plain closing line, `vitest: N passed, N failed, N skipped`, after the default
 * reporter, so that tools reading the last lines of a run see the counts.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0
    let failed = 0
    let skipped = 0
    for (const module of testModules) {
      let failedHere = 0
      for (const test of module.children.allTests()) {
        const state = test.result().state
        if (state === "passed") passed++
        else if (state === "failed") failedHere++
        else skipped++
      }
      // A file that failed outside its tests (a hook, an import) counts as one failure.
      failed += failedHere === 0 && module.state() === "failed" ? 1 : failedHere
    }
    process.stdout.write(`\nvitest: ${passed} passed, ${failed} failed, ${skipped} skipped\n`)
  }
}
