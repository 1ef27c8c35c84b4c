// ctx.neo: a minimal layer until the full API lands (see docs/functions.md).
(function (host, secrets, neo) {
  'use strict';
  const make = (network) => Object.freeze({
    request: (method, params) => host('neo.rpc', { network, method, params: params || [] }),
    batch: (calls) => host('neo.batch', { network, calls }),
    network: (name) => make(String(name)),
    info: () => host('neo.network', { network }),
  });
  return make(undefined);
})
