// SPDX-License-Identifier: MIT
// Test contract for the ctx.eth suites: views, a state write, indexed events, and reverts
// with and without a reason string, with a custom error and with a panic (division by zero).
pragma solidity 0.8.26;

contract Emitter {
    uint256 public counter;
    address public owner;

    event Ping(address indexed from, uint256 indexed n, string note);
    event Set(uint256 oldValue, uint256 newValue);

    error Denied(address who, uint256 code);

    constructor(uint256 initial) {
        counter = initial;
        owner = msg.sender;
    }

    function set(uint256 v) external {
        emit Set(counter, v);
        counter = v;
    }

    function ping(uint256 n, string calldata note) external {
        counter += 1;
        emit Ping(msg.sender, n, note);
    }

    function fail(string calldata reason) external pure {
        revert(reason);
    }

    function failBare() external pure {
        revert();
    }

    function deny(uint256 code) external view {
        revert Denied(msg.sender, code);
    }

    function divide(uint256 a, uint256 b) external pure returns (uint256) {
        return a / b;
    }

    function pair(uint256 a) external view returns (uint256 doubled, address who, string memory tag) {
        return (a * 2, owner, "emitter");
    }

    receive() external payable {}
}
