/**
 * @llama-orch/pool-managerd: the daemon that owns engine processes and serves the `PoolManager`
 * RPC. The command is `pool-managerd`; these exports let you embed or test the daemon.
 *
 * @module @llama-orch/pool-managerd
 * @since 0.1.0
 */

/** The configuration file schema (`PoolManagerdConfig`), defaults, and `load`/`resolve` into `Settings`. */
export * as Config from "./Config.js"

/** The daemon as a Layer: bind safety, the embedded manager, `/rpc`, `/health`, `/metrics`. */
export * as Daemon from "./Daemon.js"
