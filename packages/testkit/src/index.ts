export {
  peer,
  which,
  describeWithPeers,
  requirePeers,
  run,
  runOk,
  runBytes,
  type RunResult,
} from './peer.js';
export { repoRoot, sharedVectors, tempDir, readXz } from './files.js';
