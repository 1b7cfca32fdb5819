/**
 * @llama-orch/pool-client: the `PoolManager` service implemented over RPC, talking to a remote
 * pool-managerd.
 *
 * @since 0.1.0
 */

/** `PoolClient.layer({ url, token?, protocol? })`: a `PoolManager` backed by a remote pool-managerd. */
export * as PoolClient from "./PoolClient.js"
