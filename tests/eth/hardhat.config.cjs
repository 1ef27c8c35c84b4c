// Hardhat 2 config for the local test node (tests/eth/hardhat.mjs starts `hardhat node` with it).
// Chain id 1337 and the well-known test mnemonic, so accounts and keys are fixed; automine on
// (tests switch to interval mining with evm_setAutomine / evm_setIntervalMining). We compile
// with solc-js ourselves, so no `solidity` section: hardhat never downloads a compiler.
module.exports = {
  // Not contracts/: hardhat must never try to compile (and so download a compiler) by itself.
  paths: { sources: './hardhat-no-sources' },
  networks: {
    hardhat: {
      chainId: 1337,
      accounts: {
        mnemonic: 'test test test test test test test test test test test junk',
        count: 10,
      },
      mining: { auto: true },
      loggingEnabled: false,
    },
  },
};
