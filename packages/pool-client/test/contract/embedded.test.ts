/** The contract suite against the embedded layer: the reference implementation. */
import { embeddedLayer } from "../support/embedded.js"
import { poolManagerContract } from "./poolManagerContract.js"

poolManagerContract("embedded", embeddedLayer, { catalog: true })
