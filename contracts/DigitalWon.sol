// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Pausable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Pausable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

/// @title DigitalWon: a KRW deposit token for Busan (1 token = 1 KRW)
/// @notice An ERC-20 with 0 decimals. The issuer (the bank) mints against KRW deposits and burns
/// on redemption; a pauser can halt all movements. Holders never need gas: they can sign an
/// EIP-2612 permit or an EIP-3009 transfer authorization that anyone may relay.
/// @dev Redemption comes in two flavours, both of which burn the holder's own tokens:
/// - `redeem(amount, ref)`: the holder burns directly (they pay the gas);
/// - `redeemFrom(holder, amount, ref)`: the issuer burns tokens the holder approved to it,
///   usually with a gasless EIP-2612 permit. It spends the allowance, so the issuer can never
///   burn more than the holder agreed to, and each redemption reference can be used only once.
/// The issuer has no power to burn tokens without the holder's consent. Each deposit reference
/// can be minted only once, so a retried mint for the same deposit cannot double the money.
/// References are opaque bytes32 values (hashes of off-chain records): never personal data.
contract DigitalWon is ERC20, ERC20Pausable, ERC20Permit, AccessControl {
    /// @notice Role that mints against deposits and burns redeemed tokens (the bank).
    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");

    /// @notice Role that may pause and unpause every token movement.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice EIP-3009 typehash for `transferWithAuthorization`.
    bytes32 public constant TRANSFER_WITH_AUTHORIZATION_TYPEHASH = keccak256(
        "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );

    /// @notice EIP-3009 typehash for `receiveWithAuthorization`.
    bytes32 public constant RECEIVE_WITH_AUTHORIZATION_TYPEHASH = keccak256(
        "ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );

    /// @notice EIP-3009 typehash for `cancelAuthorization`.
    bytes32 public constant CANCEL_AUTHORIZATION_TYPEHASH =
        keccak256("CancelAuthorization(address authorizer,bytes32 nonce)");

    /// @dev authorizer => nonce => used or canceled.
    mapping(address authorizer => mapping(bytes32 nonce => bool used)) private _authorizationStates;

    /// @dev Deposit references already minted against.
    mapping(bytes32 depositRef => bool used) private _depositRefUsed;

    /// @dev Redemption references already burned by the issuer.
    mapping(bytes32 redemptionRef => bool used) private _redemptionRefUsed;

    /// @notice Tokens were minted against a KRW deposit.
    /// @param to The account credited.
    /// @param amount Amount in KRW.
    /// @param depositRef Opaque reference of the off-chain deposit record.
    event Issued(address indexed to, uint256 amount, bytes32 indexed depositRef);

    /// @notice Tokens were burned so that the holder is paid out in KRW.
    /// @param holder The account whose tokens were burned.
    /// @param amount Amount in KRW.
    /// @param redemptionRef Opaque reference of the off-chain redemption record.
    event Redeemed(address indexed holder, uint256 amount, bytes32 indexed redemptionRef);

    /// @notice An EIP-3009 authorization was executed.
    /// @param authorizer The account that signed the authorization.
    /// @param nonce The authorization's unique nonce.
    event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce);

    /// @notice An EIP-3009 authorization was canceled before use.
    /// @param authorizer The account that signed the cancellation.
    /// @param nonce The canceled nonce.
    event AuthorizationCanceled(address indexed authorizer, bytes32 indexed nonce);

    /// @notice The admin address is the zero address.
    error ZeroAdmin();

    /// @notice A deposit or redemption reference is zero.
    error ZeroReference();

    /// @notice Tokens were already minted for this deposit reference.
    /// @param depositRef The reused reference.
    error DepositReferenceUsed(bytes32 depositRef);

    /// @notice This redemption reference was already used.
    /// @param redemptionRef The reused reference.
    error RedemptionReferenceUsed(bytes32 redemptionRef);

    /// @notice The authorization is not valid yet.
    /// @param validAfter Time after which it becomes valid.
    /// @param nowTimestamp The current block time.
    error AuthorizationNotYetValid(uint256 validAfter, uint256 nowTimestamp);

    /// @notice The authorization has expired.
    /// @param validBefore Time before which it was valid.
    /// @param nowTimestamp The current block time.
    error AuthorizationExpired(uint256 validBefore, uint256 nowTimestamp);

    /// @notice The authorization nonce was already used or canceled.
    /// @param authorizer The signer.
    /// @param nonce The nonce.
    error AuthorizationAlreadyUsed(address authorizer, bytes32 nonce);

    /// @notice The signature does not come from the authorizer (EOA or ERC-1271 wallet).
    error InvalidAuthorizationSignature();

    /// @notice `receiveWithAuthorization` was called by someone other than the payee.
    /// @param caller The caller.
    /// @param payee The payee named in the authorization.
    error CallerNotPayee(address caller, address payee);

    /// @notice Deploy the token; `admin` gets the admin, issuer and pauser roles.
    /// @param admin The operator account of the platform.
    constructor(address admin) ERC20("DigitalWon", "KRWD") ERC20Permit("DigitalWon") {
        if (admin == address(0)) revert ZeroAdmin();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ISSUER_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
    }

    /// @notice Token amounts are whole won.
    /// @return Always 0.
    function decimals() public pure override returns (uint8) {
        return 0;
    }

    /// @notice Mint tokens against a KRW deposit; each deposit reference mints once.
    /// @param to The account credited.
    /// @param amount Amount in KRW.
    /// @param depositRef Opaque, non-zero reference of the deposit record.
    function mint(address to, uint256 amount, bytes32 depositRef) external onlyRole(ISSUER_ROLE) {
        if (depositRef == bytes32(0)) revert ZeroReference();
        if (_depositRefUsed[depositRef]) revert DepositReferenceUsed(depositRef);
        _depositRefUsed[depositRef] = true;
        _mint(to, amount);
        emit Issued(to, amount, depositRef);
    }

    /// @notice Burn your own tokens to be paid out in KRW.
    /// @dev The reference is informational here (the holder chooses it); the bank pays per event.
    /// @param amount Amount in KRW.
    /// @param redemptionRef Opaque, non-zero reference of the redemption request.
    function redeem(uint256 amount, bytes32 redemptionRef) external {
        if (redemptionRef == bytes32(0)) revert ZeroReference();
        _burn(_msgSender(), amount);
        emit Redeemed(_msgSender(), amount, redemptionRef);
    }

    /// @notice Burn tokens that `holder` approved to the issuer, to pay them out in KRW.
    /// @dev Spends the allowance (use `permit` for a gasless approval); each reference burns once.
    /// @param holder The account whose tokens are burned.
    /// @param amount Amount in KRW.
    /// @param redemptionRef Opaque, non-zero reference of the redemption record.
    function redeemFrom(address holder, uint256 amount, bytes32 redemptionRef)
        external
        onlyRole(ISSUER_ROLE)
    {
        if (redemptionRef == bytes32(0)) revert ZeroReference();
        if (_redemptionRefUsed[redemptionRef]) revert RedemptionReferenceUsed(redemptionRef);
        _redemptionRefUsed[redemptionRef] = true;
        _spendAllowance(holder, _msgSender(), amount);
        _burn(holder, amount);
        emit Redeemed(holder, amount, redemptionRef);
    }

    /// @notice Whether tokens were already minted for a deposit reference.
    /// @param depositRef The reference.
    /// @return True if used.
    function depositReferenceUsed(bytes32 depositRef) external view returns (bool) {
        return _depositRefUsed[depositRef];
    }

    /// @notice Whether the issuer already burned tokens for a redemption reference.
    /// @param redemptionRef The reference.
    /// @return True if used.
    function redemptionReferenceUsed(bytes32 redemptionRef) external view returns (bool) {
        return _redemptionRefUsed[redemptionRef];
    }

    /// @notice Halt every transfer, mint and burn.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resume token movements.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @notice Whether an authorization nonce was used or canceled (EIP-3009).
    /// @param authorizer The signer.
    /// @param nonce The nonce.
    /// @return True if used or canceled.
    function authorizationState(address authorizer, bytes32 nonce) external view returns (bool) {
        return _authorizationStates[authorizer][nonce];
    }

    /// @notice Execute a transfer signed by `from` (EIP-3009); anyone may submit it.
    /// @param from Payer (the signer).
    /// @param to Payee.
    /// @param value Amount in KRW.
    /// @param validAfter Valid only after this Unix time.
    /// @param validBefore Valid only before this Unix time.
    /// @param nonce Unique random nonce chosen by the signer.
    /// @param v Signature v.
    /// @param r Signature r.
    /// @param s Signature s.
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        _transferWithAuthorization(
            TRANSFER_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce,
            abi.encodePacked(r, s, v)
        );
    }

    /// @notice Execute a transfer signed by `from` (EIP-3009); supports ERC-1271 wallets.
    /// @param from Payer (the signer or signing contract).
    /// @param to Payee.
    /// @param value Amount in KRW.
    /// @param validAfter Valid only after this Unix time.
    /// @param validBefore Valid only before this Unix time.
    /// @param nonce Unique random nonce chosen by the signer.
    /// @param signature 65-byte ECDSA signature (r, s, v) or an ERC-1271 signature.
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes memory signature
    ) external {
        _transferWithAuthorization(
            TRANSFER_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce,
            signature
        );
    }

    /// @notice Receive a transfer signed by `from` (EIP-3009); only the payee may call it.
    /// @dev Protects the payee against front-running of an authorization meant for a contract.
    /// @param from Payer (the signer).
    /// @param to Payee; must be the caller.
    /// @param value Amount in KRW.
    /// @param validAfter Valid only after this Unix time.
    /// @param validBefore Valid only before this Unix time.
    /// @param nonce Unique random nonce chosen by the signer.
    /// @param v Signature v.
    /// @param r Signature r.
    /// @param s Signature s.
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        if (to != _msgSender()) revert CallerNotPayee(_msgSender(), to);
        _transferWithAuthorization(
            RECEIVE_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce,
            abi.encodePacked(r, s, v)
        );
    }

    /// @notice Receive a transfer signed by `from` (EIP-3009); supports ERC-1271 wallets.
    /// @param from Payer (the signer or signing contract).
    /// @param to Payee; must be the caller.
    /// @param value Amount in KRW.
    /// @param validAfter Valid only after this Unix time.
    /// @param validBefore Valid only before this Unix time.
    /// @param nonce Unique random nonce chosen by the signer.
    /// @param signature 65-byte ECDSA signature (r, s, v) or an ERC-1271 signature.
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes memory signature
    ) external {
        if (to != _msgSender()) revert CallerNotPayee(_msgSender(), to);
        _transferWithAuthorization(
            RECEIVE_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce,
            signature
        );
    }

    /// @notice Cancel an unused authorization (EIP-3009); anyone may submit the signed cancel.
    /// @param authorizer The signer of the authorization.
    /// @param nonce The nonce to cancel.
    /// @param v Signature v.
    /// @param r Signature r.
    /// @param s Signature s.
    function cancelAuthorization(address authorizer, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)
        external
    {
        _cancelAuthorization(authorizer, nonce, abi.encodePacked(r, s, v));
    }

    /// @notice Cancel an unused authorization (EIP-3009); supports ERC-1271 wallets.
    /// @param authorizer The signer of the authorization.
    /// @param nonce The nonce to cancel.
    /// @param signature 65-byte ECDSA signature (r, s, v) or an ERC-1271 signature.
    function cancelAuthorization(address authorizer, bytes32 nonce, bytes memory signature)
        external
    {
        _cancelAuthorization(authorizer, nonce, signature);
    }

    /// @dev Check time window, nonce and signature, mark the nonce used, then transfer.
    /// @param typeHash Transfer or receive typehash.
    /// @param from Payer.
    /// @param to Payee.
    /// @param value Amount.
    /// @param validAfter Lower time bound (exclusive).
    /// @param validBefore Upper time bound (exclusive).
    /// @param nonce Authorization nonce.
    /// @param signature The payer's signature.
    function _transferWithAuthorization(
        bytes32 typeHash,
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes memory signature
    ) private {
        if (block.timestamp <= validAfter) revert AuthorizationNotYetValid(validAfter, block.timestamp);
        if (block.timestamp >= validBefore) revert AuthorizationExpired(validBefore, block.timestamp);
        _requireUnusedAuthorization(from, nonce);
        bytes32 structHash =
            keccak256(abi.encode(typeHash, from, to, value, validAfter, validBefore, nonce));
        _requireValidSignature(from, structHash, signature);
        _authorizationStates[from][nonce] = true;
        emit AuthorizationUsed(from, nonce);
        _transfer(from, to, value);
    }

    /// @dev Check nonce and signature, then mark the nonce canceled.
    /// @param authorizer The signer.
    /// @param nonce The nonce.
    /// @param signature The authorizer's signature.
    function _cancelAuthorization(address authorizer, bytes32 nonce, bytes memory signature)
        private
    {
        _requireUnusedAuthorization(authorizer, nonce);
        bytes32 structHash = keccak256(abi.encode(CANCEL_AUTHORIZATION_TYPEHASH, authorizer, nonce));
        _requireValidSignature(authorizer, structHash, signature);
        _authorizationStates[authorizer][nonce] = true;
        emit AuthorizationCanceled(authorizer, nonce);
    }

    /// @dev Revert if the nonce was used or canceled.
    /// @param authorizer The signer.
    /// @param nonce The nonce.
    function _requireUnusedAuthorization(address authorizer, bytes32 nonce) private view {
        if (_authorizationStates[authorizer][nonce]) {
            revert AuthorizationAlreadyUsed(authorizer, nonce);
        }
    }

    /// @dev Revert unless `signature` over the EIP-712 digest of `structHash` is `signer`'s.
    /// @param signer Expected signer (EOA via ECDSA, contract via ERC-1271).
    /// @param structHash The EIP-712 struct hash.
    /// @param signature The signature.
    function _requireValidSignature(address signer, bytes32 structHash, bytes memory signature)
        private
        view
    {
        bytes32 digest = _hashTypedDataV4(structHash);
        if (!SignatureChecker.isValidSignatureNow(signer, digest, signature)) {
            revert InvalidAuthorizationSignature();
        }
    }

    /// @dev Every balance change passes here; blocked while paused.
    /// @param from Sender (zero when minting).
    /// @param to Recipient (zero when burning).
    /// @param value Amount.
    function _update(address from, address to, uint256 value)
        internal
        override(ERC20, ERC20Pausable)
    {
        super._update(from, to, value);
    }
}
