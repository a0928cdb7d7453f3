/** PEM lives in @lsvm/core (one linear-time scanner for every package); re-exported here. */
export { pemDecodeAll, pemEncode } from '@lsvm/core';
