import { relative } from "node:path"
import { BaseSequencer, type TestSpecification } from "vitest/node"

/**
 * The test files that take far longer than any other, relative to the repository root: the
 * packaging test builds every package, packs and installs the tarballs and compiles a consumer,
 * most of the suite's wall time on two cores. Started last, the whole run waits for it alone.
 */
export const longPoles: ReadonlyArray<string> = ["scripts/test/packaging.test.ts"]

/** `files` with the long poles first (in `longPoles` order), the others in their order. */
export const longPolesFirst = <A>(files: ReadonlyArray<A>, path: (file: A) => string): Array<A> => {
  const rank = (file: A): number => {
    const i = longPoles.indexOf(path(file))
    return i === -1 ? longPoles.length : i
  }
  return [...files].sort((a, b) => rank(a) - rank(b))
}

/**
 * Vitest's own order (failed first, then the longest by the durations it remembers; on a fresh
 * clone, which remembers none, the largest files first), except that the long poles start first, so
 * that the rest of the suite runs beside them.
 */
export default class LongPolesFirst extends BaseSequencer {
  override async sort(files: Array<TestSpecification>): Promise<Array<TestSpecification>> {
    const sorted = await super.sort(files)
    return longPolesFirst(sorted, (file) => relative(this.ctx.config.root, file.moduleId))
  }
}
