// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Probe
/// @notice A tiny token used only by the explorer tests: it mints, transfers and fails on purpose.
contract Probe {
    /// @notice Tokens moved (or were minted when `from` is zero).
    /// @param from The sender.
    /// @param to The receiver.
    /// @param value The amount.
    event Transfer(address indexed from, address indexed to, uint256 value);

    /// @notice A free-form event with a dynamic string and array, to test decoding.
    /// @param text Any text.
    /// @param numbers Any numbers.
    event Note(string text, uint256[] numbers);

    /// @notice The sender holds less than the amount.
    /// @param account The sender.
    /// @param balance What it holds.
    /// @param needed What it tried to send.
    error InsufficientBalance(address account, uint256 balance, uint256 needed);

    /// @notice Balance of each holder.
    mapping(address => uint256) public balanceOf;

    /// @notice The result of the last division.
    uint256 public last;

    /// @notice Create tokens out of nothing (test only).
    /// @param to The receiver.
    /// @param amount The amount.
    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    /// @notice Send tokens; reverts with a custom error when the balance is too low.
    /// @param to The receiver.
    /// @param amount The amount.
    /// @return Always true.
    function transfer(address to, uint256 amount) external returns (bool) {
        uint256 balance = balanceOf[msg.sender];
        if (balance < amount) revert InsufficientBalance(msg.sender, balance, amount);
        balanceOf[msg.sender] = balance - amount;
        balanceOf[to] += amount;
        emit Transfer(msg.sender, to, amount);
        return true;
    }

    /// @notice Emit a Note event.
    /// @param text Any text.
    /// @param numbers Any numbers.
    function note(string calldata text, uint256[] calldata numbers) external {
        emit Note(text, numbers);
    }

    /// @notice Always revert with Error(string).
    /// @param why The revert message.
    function fail(string calldata why) external pure {
        require(false, why);
    }

    /// @notice Divide; reverts with Panic(0x12) when `b` is zero.
    /// @param a The dividend.
    /// @param b The divisor.
    function divide(uint256 a, uint256 b) external {
        last = a / b;
    }
}
