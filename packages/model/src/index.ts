export {
  type ActorEnvironment,
  type ActorSpec,
  deleteActor,
  gcActor,
  getActor,
  putActor,
  type RunGroup,
  renamePutActor,
  runGcActor,
  runHitActor,
  STORE_DIR,
} from './actors.js'
export {
  buildConfigurations,
  KEY_1,
  KEY_2,
  runInModel,
  VALUE_A,
  VALUE_B,
  VALUE_SMALL,
} from './configurations.js'
export {
  type Choice,
  type Configuration,
  type ExploreResult,
  explore,
  finalViolation,
  type Limits,
  replay,
  sample,
  traceOf,
  type Violation,
  World,
} from './explore.js'
export { FsError, MemoryFs, type Semantics, type Transition } from './memory-fs.js'
export { buildRunConfigurations } from './run-configurations.js'
