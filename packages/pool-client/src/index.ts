/**
 * @llama-orch/pool-client: the `PoolManager` service implemented over RPC, talking to a remote
 * pool-managerd.
 *
 * @module @llama-orch/pool-client
 * @since 0.1.0
 */

/** `PoolClient.layer({ url, token?, protocol? })`: a `PoolManager` backed by a remote pool-managerd. */
export * as PoolClient from "./PoolClient.js"

/** A cluster of pool-managerds (named nodes and/or DNS discovery) as one `PoolManager`. */
export * as PoolCluster from "./PoolCluster.js"
