// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @notice A tiny token used only by the explorer tests: it mints, transfers and fails on purpose.
contract Probe {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Note(string text, uint256[] numbers);
    error InsufficientBalance(address account, uint256 balance, uint256 needed);

    mapping(address => uint256) public balanceOf;
    uint256 public last;

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        uint256 balance = balanceOf[msg.sender];
        if (balance < amount) revert InsufficientBalance(msg.sender, balance, amount);
        balanceOf[msg.sender] = balance - amount;
        balanceOf[to] += amount;
        emit Transfer(msg.sender, to, amount);
        return true;
    }

    function note(string calldata text, uint256[] calldata numbers) external {
        emit Note(text, numbers);
    }

    function fail(string calldata why) external pure {
        require(false, why);
    }

    function divide(uint256 a, uint256 b) external {
        last = a / b;
    }
}
