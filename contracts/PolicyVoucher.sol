// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {MerchantRegistry} from "./MerchantRegistry.sol";

/// @title PolicyVoucher: purpose-bound policy allowances over DigitalWon (ERC-7291 style)
/// @notice Each allowance program (youth, family, child-rearing allowance) is one ERC-1155 id.
/// A program locks DigitalWon as backing; citizens receive vouchers by Merkle claim or direct
/// grant, and spend them only at registered, active merchants whose category and district the
/// program allows, within a per-payment and a daily cap. Paying burns the voucher and sends
/// plain DigitalWon to the merchant (unwrap). Vouchers cannot move between citizens. After
/// expiry every balance reads 0 and the remaining backing goes to the treasury in O(1).
/// @dev Accounting per program (the conservation identity, checked by `conservation`):
/// `locked = unspent + unclaimed + unallocated`, where `locked` is the DigitalWon held for the
/// program, `unspent` the sum of all voucher balances, `unclaimed` the amounts reserved under
/// posted Merkle roots and not yet claimed or revoked, and `unallocated` the rest of the budget.
/// Across programs, `totalLocked` equals this contract's DigitalWon balance.
/// Revocation: a Merkle leaf can be revoked while it is unclaimed (it is then marked and can
/// never be claimed); a direct grant can be revoked while the holder still has that much
/// unspent balance (at most the sum of direct grants not yet revoked). Claimed Merkle grants
/// cannot be revoked. Caps and the per-person amount are "no limit" when set to 0.
/// Days for the daily cap start at midnight Korea time (UTC+9).
contract PolicyVoucher is ERC1155, AccessControl, Pausable, EIP712 {
    using SafeERC20 for IERC20;

    /// @notice Role that creates programs, posts rounds, grants and revokes.
    bytes32 public constant PROGRAM_ADMIN_ROLE = keccak256("PROGRAM_ADMIN_ROLE");

    /// @notice Role that pauses the whole contract or one program.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice Role that blacklists payers and merchants.
    bytes32 public constant BLACKLISTER_ROLE = keccak256("BLACKLISTER_ROLE");

    /// @notice EIP-712 typehash of a payment signed by the citizen.
    bytes32 public constant PAYMENT_TYPEHASH = keccak256(
        "Payment(address payer,uint256 programId,address merchant,uint256 amount,bytes32 orderRef,uint256 nonce,uint256 deadline)"
    );

    /// @notice Offset of Korea Standard Time from UTC, for daily caps.
    uint256 public constant DAY_OFFSET = 9 hours;

    /// @dev Merkle leaf status: never seen.
    uint8 private constant LEAF_OPEN = 0;
    /// @dev Merkle leaf status: claimed.
    uint8 private constant LEAF_CLAIMED = 1;
    /// @dev Merkle leaf status: revoked before claim.
    uint8 private constant LEAF_REVOKED = 2;
    /// @dev Category rule: allowed.
    uint8 private constant CATEGORY_ALLOWED = 1;
    /// @dev Category rule: blocked.
    uint8 private constant CATEGORY_BLOCKED = 2;

    /// @notice Why a payment was rejected (reported by `PaymentFailed` or `PaymentRejected`).
    enum Reason {
        None,
        ContractPaused,
        UnknownProgram,
        ProgramPaused,
        NotStarted,
        Expired,
        ZeroAmount,
        PayerBlacklisted,
        MerchantBlacklisted,
        MerchantNotRegistered,
        MerchantSuspended,
        CategoryBlocked,
        CategoryNotAllowed,
        DistrictNotAllowed,
        OverPaymentCap,
        OverDailyCap,
        InsufficientBalance,
        DeadlinePassed,
        NonceUsed,
        BadSignature
    }

    /// @notice The rules of a program, as given to `createProgram`.
    /// @param budget DigitalWon pulled from the creator and locked as backing.
    /// @param perPersonAmount Largest single grant or claim (0 = no limit).
    /// @param perPaymentCap Largest single payment (0 = no limit).
    /// @param dailyCap Largest total a citizen may pay per Korean calendar day (0 = no limit).
    /// @param start Payments are accepted from this Unix time.
    /// @param expiry Vouchers expire at this Unix time.
    /// @param allowedCategories MCCs allowed (empty = every category not blocked).
    /// @param blockedCategories MCCs never allowed.
    /// @param allowedDistricts Busan district codes allowed (empty = all of Busan).
    struct ProgramParams {
        uint256 budget;
        uint256 perPersonAmount;
        uint256 perPaymentCap;
        uint256 dailyCap;
        uint64 start;
        uint64 expiry;
        uint16[] allowedCategories;
        uint16[] blockedCategories;
        uint32[] allowedDistricts;
    }

    /// @notice A program's stored rules.
    /// @param budget Initial backing.
    /// @param perPersonAmount Largest single grant or claim (0 = no limit).
    /// @param perPaymentCap Largest single payment (0 = no limit).
    /// @param dailyCap Daily total per citizen (0 = no limit).
    /// @param start Payments accepted from this time.
    /// @param expiry Vouchers expire at this time (non-zero for every program).
    /// @param restrictCategories Whether only the allowed categories are accepted.
    /// @param restrictDistricts Whether only the allowed districts are accepted.
    /// @param paused Whether the program is paused.
    /// @param withdrawn Whether the expired backing was withdrawn.
    struct Program {
        uint256 budget;
        uint256 perPersonAmount;
        uint256 perPaymentCap;
        uint256 dailyCap;
        uint64 start;
        uint64 expiry;
        bool restrictCategories;
        bool restrictDistricts;
        bool paused;
        bool withdrawn;
    }

    /// @notice A program's running money totals.
    /// @param locked DigitalWon held as backing now.
    /// @param unspent Sum of all voucher balances (outstanding vouchers).
    /// @param unclaimed Amounts under posted roots not yet claimed or revoked.
    /// @param paidOut DigitalWon sent to merchants so far.
    /// @param refunded DigitalWon returned by merchants so far.
    /// @param withdrawn DigitalWon sent to the treasury after expiry.
    struct Ledger {
        uint256 locked;
        uint256 unspent;
        uint256 unclaimed;
        uint256 paidOut;
        uint256 refunded;
        uint256 withdrawn;
    }

    /// @notice A disbursement round under a Merkle root.
    /// @param root Root over leaves (recipient, amount, roundId).
    /// @param total Amount reserved for the round.
    /// @param settled Amount claimed or revoked so far.
    struct Round {
        bytes32 root;
        uint256 total;
        uint256 settled;
    }

    /// @notice A payment relayed in a batch, signed by the payer (EIP-712 `Payment`).
    /// @param payer The citizen paying (the signer).
    /// @param programId The program whose vouchers pay.
    /// @param merchant The registered merchant paid.
    /// @param amount Amount in KRW.
    /// @param orderRef Opaque order reference (never personal data).
    /// @param nonce Unordered nonce chosen by the payer; each is used once (sequential nonces
    /// are cheapest: 256 of them share one storage slot).
    /// @param deadline Last Unix time at which the payment may execute.
    /// @param signature The payer's signature (65-byte ECDSA or ERC-1271).
    struct Payment {
        address payer;
        uint256 programId;
        address merchant;
        uint256 amount;
        bytes32 orderRef;
        uint256 nonce;
        uint256 deadline;
        bytes signature;
    }

    /// @notice What a refund must restate about the original payment (its hash is stored).
    /// @param programId The program paid from.
    /// @param payer The citizen who paid.
    /// @param merchant The merchant paid.
    /// @param amount The amount paid.
    /// @param day The Korean calendar day number of the payment.
    struct PaymentRecord {
        uint256 programId;
        address payer;
        address merchant;
        uint256 amount;
        uint256 day;
    }

    /// @notice The DigitalWon token that backs every voucher.
    IERC20 public immutable token;

    /// @notice The registry of merchants allowed to accept vouchers.
    MerchantRegistry public immutable registry;

    /// @notice Receives the unspent backing of expired programs.
    address public immutable treasury;

    /// @notice Sum of `locked` over all programs; equals this contract's DigitalWon balance.
    uint256 public totalLocked;

    /// @notice Number of payments made so far; payment ids start at 1.
    uint256 public paymentCount;

    /// @dev programId => rules.
    mapping(uint256 programId => Program rules) private _programs;
    /// @dev programId => money totals.
    mapping(uint256 programId => Ledger totals) private _ledgers;
    /// @dev programId => mcc => CATEGORY_ALLOWED or CATEGORY_BLOCKED.
    mapping(uint256 programId => mapping(uint16 mcc => uint8 rule)) private _categoryRule;
    /// @dev programId => district => allowed.
    mapping(uint256 programId => mapping(uint32 district => bool allowed)) private _districtAllowed;
    /// @dev programId => roundId => round.
    mapping(uint256 programId => mapping(uint256 roundId => Round round)) private _rounds;
    /// @dev programId => leaf => LEAF_OPEN, LEAF_CLAIMED or LEAF_REVOKED.
    mapping(uint256 programId => mapping(bytes32 leaf => uint8 status)) private _leafStatus;
    /// @dev programId => holder => direct grants not yet revoked.
    mapping(uint256 programId => mapping(address holder => uint256 amount)) private _directGranted;
    /// @dev programId => payer => day => amount paid that day.
    mapping(uint256 programId => mapping(address payer => mapping(uint256 day => uint256 paid)))
        private _dailyPaid;
    /// @dev payer => nonce word (nonce >> 8) => bitmap of used nonces (bit nonce & 255).
    /// Sequential nonces share a storage slot, so 256 payments pay for one new slot.
    mapping(address payer => mapping(uint256 word => uint256 bits)) private _nonceBitmap;
    /// @dev account => blacklisted.
    mapping(address account => bool blocked) private _blacklisted;
    /// @dev paymentId => keccak256 of its PaymentRecord.
    mapping(uint256 paymentId => bytes32 recordHash) private _paymentHash;
    /// @dev paymentId => amount refunded so far.
    mapping(uint256 paymentId => uint256 amount) private _refundedOf;

    /// @notice A program was created and its budget locked.
    /// @param programId The program (ERC-1155 id).
    /// @param budget DigitalWon locked.
    /// @param start Start of payments.
    /// @param expiry Expiry of vouchers.
    event ProgramCreated(uint256 indexed programId, uint256 budget, uint64 start, uint64 expiry);

    /// @notice A Merkle root was posted and `total` reserved for it.
    /// @param programId The program.
    /// @param roundId The round.
    /// @param root The Merkle root.
    /// @param total Amount reserved.
    event RoundPosted(uint256 indexed programId, uint256 indexed roundId, bytes32 root, uint256 total);

    /// @notice A recipient claimed a Merkle grant.
    /// @param programId The program.
    /// @param roundId The round.
    /// @param recipient The citizen credited.
    /// @param amount Amount.
    event Claimed(
        uint256 indexed programId, uint256 indexed roundId, address indexed recipient, uint256 amount
    );

    /// @notice A direct grant was made.
    /// @param programId The program.
    /// @param recipient The citizen credited.
    /// @param amount Amount.
    event Granted(uint256 indexed programId, address indexed recipient, uint256 amount);

    /// @notice An unclaimed Merkle grant was revoked.
    /// @param programId The program.
    /// @param roundId The round.
    /// @param recipient The citizen named in the leaf.
    /// @param amount Amount returned to the unallocated backing.
    event RootGrantRevoked(
        uint256 indexed programId, uint256 indexed roundId, address indexed recipient, uint256 amount
    );

    /// @notice Unspent direct-grant vouchers were revoked.
    /// @param programId The program.
    /// @param holder The citizen whose vouchers were burned.
    /// @param amount Amount returned to the unallocated backing.
    event GrantRevoked(uint256 indexed programId, address indexed holder, uint256 amount);

    /// @notice A payment succeeded: vouchers burned, DigitalWon sent to the merchant.
    /// @param paymentId The payment's id (for refunds).
    /// @param programId The program.
    /// @param payer The citizen.
    /// @param merchant The merchant.
    /// @param amount Amount.
    /// @param orderRef Opaque order reference.
    /// @param day Korean calendar day number (part of the refund record).
    event Paid(
        uint256 indexed paymentId,
        uint256 indexed programId,
        address indexed payer,
        address merchant,
        uint256 amount,
        bytes32 orderRef,
        uint256 day
    );

    /// @notice A payment in a batch was skipped.
    /// @param index Its position in the batch.
    /// @param payer The payer it named.
    /// @param nonce The nonce it carried (not consumed).
    /// @param reason Why it failed.
    event PaymentFailed(uint256 index, address indexed payer, uint256 nonce, Reason reason);

    /// @notice A merchant refunded (part of) a payment.
    /// @param paymentId The original payment.
    /// @param programId The program.
    /// @param payer The citizen credited again.
    /// @param merchant The merchant refunding.
    /// @param amount Amount.
    event Refunded(
        uint256 indexed paymentId,
        uint256 indexed programId,
        address indexed payer,
        address merchant,
        uint256 amount
    );

    /// @notice The backing left in an expired program went to the treasury.
    /// @param programId The program.
    /// @param amount DigitalWon sent.
    event ExpiredWithdrawn(uint256 indexed programId, uint256 amount);

    /// @notice A program was paused or unpaused.
    /// @param programId The program.
    /// @param paused The new state.
    event ProgramPauseSet(uint256 indexed programId, bool paused);

    /// @notice An account was added to or removed from the blacklist.
    /// @param account The account.
    /// @param blacklisted The new state.
    event BlacklistSet(address indexed account, bool blacklisted);

    /// @notice A constructor address is zero.
    error ZeroAddress();
    /// @notice An amount is zero.
    error ZeroAmount();
    /// @notice Program id 0 is reserved, or the id is taken.
    /// @param programId The id.
    error InvalidProgramId(uint256 programId);
    /// @notice No such program.
    /// @param programId The id.
    error UnknownProgram(uint256 programId);
    /// @notice Expiry must be after start and in the future.
    error InvalidSchedule();
    /// @notice The program has expired.
    /// @param programId The id.
    error ProgramExpired(uint256 programId);
    /// @notice The program has not expired yet.
    /// @param programId The id.
    error ProgramNotExpired(uint256 programId);
    /// @notice The program's backing was already withdrawn.
    /// @param programId The id.
    error AlreadyWithdrawn(uint256 programId);
    /// @notice The program is paused.
    /// @param programId The id.
    error ProgramIsPaused(uint256 programId);
    /// @notice The round id is taken or its root is zero.
    /// @param roundId The round.
    error InvalidRound(uint256 roundId);
    /// @notice No such round.
    /// @param roundId The round.
    error UnknownRound(uint256 roundId);
    /// @notice Not enough unallocated backing.
    /// @param requested Amount asked for.
    /// @param available Unallocated amount.
    error InsufficientUnallocated(uint256 requested, uint256 available);
    /// @notice The leaf was already claimed or revoked.
    /// @param leaf The leaf hash.
    error LeafSettled(bytes32 leaf);
    /// @notice The Merkle proof does not prove the leaf.
    error InvalidProof();
    /// @notice Claims would exceed the round's reserved total.
    /// @param roundId The round.
    error RoundOverdrawn(uint256 roundId);
    /// @notice Array lengths differ.
    error LengthMismatch();
    /// @notice A grant is larger than the per-person amount.
    /// @param amount The grant.
    /// @param limit The per-person amount.
    error GrantAboveLimit(uint256 amount, uint256 limit);
    /// @notice Vouchers cannot be transferred between holders.
    error NonTransferable();
    /// @notice The revocation exceeds what may be revoked.
    /// @param amount Requested.
    /// @param revocable Revocable now.
    error RevokeTooLarge(uint256 amount, uint256 revocable);
    /// @notice A direct payment broke a rule.
    /// @param reason Which rule.
    error PaymentRejected(Reason reason);
    /// @notice The refund record does not match the stored payment.
    /// @param paymentId The payment id.
    error PaymentMismatch(uint256 paymentId);
    /// @notice Only the merchant paid may refund.
    /// @param caller The caller.
    error NotPaymentMerchant(address caller);
    /// @notice The refund exceeds what is left of the payment.
    /// @param amount Requested.
    /// @param refundable Left to refund.
    error RefundTooLarge(uint256 amount, uint256 refundable);

    /// @notice Deploy the voucher contract; `admin` gets every role.
    /// @param admin The operator account of the platform.
    /// @param token_ The DigitalWon token.
    /// @param registry_ The merchant registry.
    /// @param treasury_ Receiver of expired backing.
    constructor(address admin, IERC20 token_, MerchantRegistry registry_, address treasury_)
        ERC1155("")
        EIP712("PolicyVoucher", "1")
    {
        if (
            admin == address(0) || address(token_) == address(0)
                || address(registry_) == address(0) || treasury_ == address(0)
        ) revert ZeroAddress();
        token = token_;
        registry = registry_;
        treasury = treasury_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PROGRAM_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _grantRole(BLACKLISTER_ROLE, admin);
    }

    // ---------------------------------------------------------------- programs

    /// @notice Create a program and lock its budget (approve this contract for it first).
    /// @param programId New, non-zero program id (the ERC-1155 id).
    /// @param params The program's rules.
    function createProgram(uint256 programId, ProgramParams calldata params)
        external
        onlyRole(PROGRAM_ADMIN_ROLE)
    {
        if (programId == 0 || _programs[programId].expiry != 0) revert InvalidProgramId(programId);
        if (params.budget == 0) revert ZeroAmount();
        if (params.expiry <= params.start || params.expiry <= block.timestamp) {
            revert InvalidSchedule();
        }
        _programs[programId] = Program({
            budget: params.budget,
            perPersonAmount: params.perPersonAmount,
            perPaymentCap: params.perPaymentCap,
            dailyCap: params.dailyCap,
            start: params.start,
            expiry: params.expiry,
            restrictCategories: params.allowedCategories.length > 0,
            restrictDistricts: params.allowedDistricts.length > 0,
            paused: false,
            withdrawn: false
        });
        for (uint256 i = 0; i < params.allowedCategories.length; ++i) {
            _categoryRule[programId][params.allowedCategories[i]] = CATEGORY_ALLOWED;
        }
        for (uint256 i = 0; i < params.blockedCategories.length; ++i) {
            _categoryRule[programId][params.blockedCategories[i]] = CATEGORY_BLOCKED;
        }
        for (uint256 i = 0; i < params.allowedDistricts.length; ++i) {
            _districtAllowed[programId][params.allowedDistricts[i]] = true;
        }
        _ledgers[programId].locked = params.budget;
        totalLocked += params.budget;
        emit ProgramCreated(programId, params.budget, params.start, params.expiry);
        token.safeTransferFrom(_msgSender(), address(this), params.budget);
    }

    /// @notice A program's rules.
    /// @param programId The program.
    /// @return The stored rules (all zero when unknown).
    function program(uint256 programId) external view returns (Program memory) {
        return _programs[programId];
    }

    /// @notice A program's running money totals.
    /// @param programId The program.
    /// @return The ledger.
    function ledger(uint256 programId) external view returns (Ledger memory) {
        return _ledgers[programId];
    }

    /// @notice Whether a program accepts merchants of category `mcc`.
    /// @param programId The program.
    /// @param mcc The category code.
    /// @return True if allowed.
    function categoryAllowed(uint256 programId, uint16 mcc) external view returns (bool) {
        return _categoryReason(programId, mcc) == Reason.None;
    }

    /// @notice Whether a program accepts merchants in `district`.
    /// @param programId The program.
    /// @param district The district code.
    /// @return True if allowed.
    function districtAllowed(uint256 programId, uint32 district) external view returns (bool) {
        return !_programs[programId].restrictDistricts || _districtAllowed[programId][district];
    }

    /// @notice The conservation proof: `lockedBacking == unspent + unclaimed + unallocated`.
    /// @dev `unallocated` is computed as the difference, so the call reverts (underflow) if the
    /// identity were ever broken; `totalLocked` ties the sum over programs to the token balance.
    /// @param programId The program.
    /// @return lockedBacking DigitalWon held for the program.
    /// @return unspent Sum of outstanding voucher balances.
    /// @return unclaimed Amounts under roots not yet claimed or revoked.
    /// @return unallocated Backing neither granted nor reserved.
    function conservation(uint256 programId)
        external
        view
        returns (uint256 lockedBacking, uint256 unspent, uint256 unclaimed, uint256 unallocated)
    {
        Ledger storage l = _ledgers[programId];
        return (l.locked, l.unspent, l.unclaimed, l.locked - l.unspent - l.unclaimed);
    }

    /// @notice Whether a program has expired (false for unknown ids).
    /// @param programId The program.
    /// @return True once `block.timestamp >= expiry`.
    function isExpired(uint256 programId) public view returns (bool) {
        uint64 expiry = _programs[programId].expiry;
        return expiry != 0 && block.timestamp >= expiry;
    }

    // ---------------------------------------------------------------- grants

    /// @notice Reserve `total` of the unallocated backing for a Merkle round.
    /// @param programId The program.
    /// @param roundId New round id.
    /// @param merkleRoot Root over leaves keccak256(keccak256(abi.encode(recipient, amount, roundId))).
    /// @param total Sum of the amounts under the root.
    function postRound(uint256 programId, uint256 roundId, bytes32 merkleRoot, uint256 total)
        external
        onlyRole(PROGRAM_ADMIN_ROLE)
    {
        _requireLive(programId);
        if (merkleRoot == bytes32(0) || _rounds[programId][roundId].root != bytes32(0)) {
            revert InvalidRound(roundId);
        }
        if (total == 0) revert ZeroAmount();
        _requireUnallocated(programId, total);
        _rounds[programId][roundId] = Round(merkleRoot, total, 0);
        _ledgers[programId].unclaimed += total;
        emit RoundPosted(programId, roundId, merkleRoot, total);
    }

    /// @notice A round's root, reserved total and settled (claimed or revoked) amount.
    /// @param programId The program.
    /// @param roundId The round.
    /// @return The round.
    function round(uint256 programId, uint256 roundId) external view returns (Round memory) {
        return _rounds[programId][roundId];
    }

    /// @notice Claim a Merkle grant for `recipient`; anyone (usually the relayer) may submit.
    /// @param programId The program.
    /// @param roundId The round.
    /// @param recipient The citizen named in the leaf.
    /// @param amount The amount in the leaf.
    /// @param proof Merkle proof (sorted pairs, as OpenZeppelin's StandardMerkleTree).
    function claim(
        uint256 programId,
        uint256 roundId,
        address recipient,
        uint256 amount,
        bytes32[] calldata proof
    ) external whenNotPaused {
        _requireLive(programId);
        if (_programs[programId].paused) revert ProgramIsPaused(programId);
        _settleLeaf(programId, roundId, recipient, amount, proof, LEAF_CLAIMED);
        _ledgers[programId].unspent += amount;
        emit Claimed(programId, roundId, recipient, amount);
        _mint(recipient, programId, amount, "");
    }

    /// @notice Whether a Merkle leaf was claimed (1), revoked (2) or is open (0).
    /// @param programId The program.
    /// @param roundId The round.
    /// @param recipient The citizen.
    /// @param amount The amount.
    /// @return The leaf status.
    function leafStatus(uint256 programId, uint256 roundId, address recipient, uint256 amount)
        external
        view
        returns (uint8)
    {
        return _leafStatus[programId][_leaf(recipient, amount, roundId)];
    }

    /// @notice Revoke an unclaimed Merkle grant; its amount returns to the unallocated backing.
    /// @param programId The program.
    /// @param roundId The round.
    /// @param recipient The citizen named in the leaf.
    /// @param amount The amount in the leaf.
    /// @param proof Merkle proof of the leaf.
    function revokeRootGrant(
        uint256 programId,
        uint256 roundId,
        address recipient,
        uint256 amount,
        bytes32[] calldata proof
    ) external onlyRole(PROGRAM_ADMIN_ROLE) {
        _requireLive(programId);
        _settleLeaf(programId, roundId, recipient, amount, proof, LEAF_REVOKED);
        emit RootGrantRevoked(programId, roundId, recipient, amount);
    }

    /// @notice Grant vouchers directly from the unallocated backing (small rounds, late additions).
    /// @param programId The program.
    /// @param recipients The citizens.
    /// @param amounts The amounts, one per recipient.
    function grantBatch(uint256 programId, address[] calldata recipients, uint256[] calldata amounts)
        external
        onlyRole(PROGRAM_ADMIN_ROLE)
    {
        _requireLive(programId);
        if (recipients.length != amounts.length) revert LengthMismatch();
        uint256 sum = 0;
        uint256 limit = _programs[programId].perPersonAmount;
        for (uint256 i = 0; i < amounts.length; ++i) {
            if (amounts[i] == 0) revert ZeroAmount();
            if (limit != 0 && amounts[i] > limit) revert GrantAboveLimit(amounts[i], limit);
            sum += amounts[i];
        }
        _requireUnallocated(programId, sum);
        _ledgers[programId].unspent += sum;
        for (uint256 i = 0; i < recipients.length; ++i) {
            _directGranted[programId][recipients[i]] += amounts[i];
            emit Granted(programId, recipients[i], amounts[i]);
            _mint(recipients[i], programId, amounts[i], "");
        }
    }

    /// @notice How much of `holder`'s vouchers may be revoked now: the direct grants not yet
    /// revoked, capped by the unspent balance.
    /// @param programId The program.
    /// @param holder The citizen.
    /// @return The revocable amount (0 after expiry).
    function revocable(uint256 programId, address holder) public view returns (uint256) {
        uint256 granted = _directGranted[programId][holder];
        uint256 balance = balanceOf(holder, programId);
        return granted < balance ? granted : balance;
    }

    /// @notice Revoke unspent direct-grant vouchers; the amount returns to the unallocated backing.
    /// @param programId The program.
    /// @param holder The citizen.
    /// @param amount Amount to revoke (at most `revocable`).
    function revokeGrant(uint256 programId, address holder, uint256 amount)
        external
        onlyRole(PROGRAM_ADMIN_ROLE)
    {
        _requireLive(programId);
        if (amount == 0) revert ZeroAmount();
        uint256 allowed = revocable(programId, holder);
        if (amount > allowed) revert RevokeTooLarge(amount, allowed);
        _directGranted[programId][holder] -= amount;
        _ledgers[programId].unspent -= amount;
        _burn(holder, programId, amount);
        emit GrantRevoked(programId, holder, amount);
    }

    // ---------------------------------------------------------------- payments

    /// @notice Pay a merchant with your own vouchers; reverts `PaymentRejected(reason)` on a rule.
    /// @param programId The program.
    /// @param merchant The registered merchant.
    /// @param amount Amount in KRW.
    /// @param orderRef Opaque order reference.
    /// @return paymentId The new payment's id.
    function pay(uint256 programId, address merchant, uint256 amount, bytes32 orderRef)
        external
        returns (uint256 paymentId)
    {
        Reason reason = checkPayment(programId, _msgSender(), merchant, amount);
        if (reason != Reason.None) revert PaymentRejected(reason);
        return _settle(programId, _msgSender(), merchant, amount, orderRef);
    }

    /// @notice Execute many payments signed by their payers; anyone (the relayer) may submit.
    /// @dev Each payment is checked on its own; a failing one emits `PaymentFailed` and is
    /// skipped without consuming its nonce, and the batch goes on.
    /// @param payments The signed payments.
    /// @return succeeded How many payments succeeded.
    function payBatch(Payment[] calldata payments) external returns (uint256 succeeded) {
        for (uint256 i = 0; i < payments.length; ++i) {
            Payment calldata p = payments[i];
            Reason reason = _checkSigned(p);
            if (reason != Reason.None) {
                emit PaymentFailed(i, p.payer, p.nonce, reason);
                continue;
            }
            _nonceBitmap[p.payer][p.nonce >> 8] |= uint256(1) << (p.nonce & 0xff);
            _settle(p.programId, p.payer, p.merchant, p.amount, p.orderRef);
            ++succeeded;
        }
    }

    /// @notice The EIP-712 digest a payer signs for `p` (the signature field is ignored).
    /// @param p The payment.
    /// @return The digest.
    function paymentDigest(Payment calldata p) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    PAYMENT_TYPEHASH,
                    p.payer,
                    p.programId,
                    p.merchant,
                    p.amount,
                    p.orderRef,
                    p.nonce,
                    p.deadline
                )
            )
        );
    }

    /// @notice Whether a payer's nonce was used.
    /// @param payer The citizen.
    /// @param nonce The nonce.
    /// @return True if used.
    function nonceUsed(address payer, uint256 nonce) public view returns (bool) {
        return _nonceBitmap[payer][nonce >> 8] & (uint256(1) << (nonce & 0xff)) != 0;
    }

    /// @notice Check every rule for a payment without executing it.
    /// @param programId The program.
    /// @param payer The citizen.
    /// @param merchant The merchant.
    /// @param amount Amount in KRW.
    /// @return The first rule broken, or `Reason.None`.
    function checkPayment(uint256 programId, address payer, address merchant, uint256 amount)
        public
        view
        returns (Reason)
    {
        if (paused()) return Reason.ContractPaused;
        Program storage rules = _programs[programId];
        if (rules.expiry == 0) return Reason.UnknownProgram;
        if (rules.paused) return Reason.ProgramPaused;
        if (block.timestamp < rules.start) return Reason.NotStarted;
        if (block.timestamp >= rules.expiry) return Reason.Expired;
        if (amount == 0) return Reason.ZeroAmount;
        if (_blacklisted[payer]) return Reason.PayerBlacklisted;
        if (_blacklisted[merchant]) return Reason.MerchantBlacklisted;
        Reason reason = _merchantReason(programId, merchant);
        if (reason != Reason.None) return reason;
        if (rules.perPaymentCap != 0 && amount > rules.perPaymentCap) return Reason.OverPaymentCap;
        uint256 today = _dailyPaid[programId][payer][_today()];
        if (rules.dailyCap != 0 && today + amount > rules.dailyCap) return Reason.OverDailyCap;
        if (super.balanceOf(payer, programId) < amount) return Reason.InsufficientBalance;
        return Reason.None;
    }

    /// @notice How much `payer` already paid today (Korea time) in a program.
    /// @param programId The program.
    /// @param payer The citizen.
    /// @return Amount paid today.
    function paidToday(uint256 programId, address payer) external view returns (uint256) {
        return _dailyPaid[programId][payer][_today()];
    }

    /// @notice Refund (part of) a payment: the merchant returns DigitalWon (approve it first)
    /// and the citizen gets the vouchers back, in the same program, before expiry.
    /// @param paymentId The original payment's id.
    /// @param record The original payment, as emitted in `Paid`.
    /// @param amount Amount to refund; all refunds together never exceed the payment.
    function refund(uint256 paymentId, PaymentRecord calldata record, uint256 amount)
        external
        whenNotPaused
    {
        if (_paymentHash[paymentId] != keccak256(abi.encode(record))) {
            revert PaymentMismatch(paymentId);
        }
        if (_msgSender() != record.merchant) revert NotPaymentMerchant(_msgSender());
        if (amount == 0) revert ZeroAmount();
        _requireLive(record.programId);
        uint256 left = record.amount - _refundedOf[paymentId];
        if (amount > left) revert RefundTooLarge(amount, left);
        _refundedOf[paymentId] += amount;
        Ledger storage l = _ledgers[record.programId];
        l.locked += amount;
        l.unspent += amount;
        l.refunded += amount;
        totalLocked += amount;
        mapping(uint256 => uint256) storage daily = _dailyPaid[record.programId][record.payer];
        daily[record.day] -= amount < daily[record.day] ? amount : daily[record.day];
        emit Refunded(paymentId, record.programId, record.payer, record.merchant, amount);
        token.safeTransferFrom(record.merchant, address(this), amount);
        _mint(record.payer, record.programId, amount, "");
    }

    /// @notice How much of a payment was refunded so far.
    /// @param paymentId The payment.
    /// @return Amount refunded.
    function refundedOf(uint256 paymentId) external view returns (uint256) {
        return _refundedOf[paymentId];
    }

    // ---------------------------------------------------------------- expiry

    /// @notice After expiry, send the program's remaining backing to the treasury in O(1).
    /// @dev No loop over holders: balances already read 0 after expiry, so the ledger is zeroed.
    /// Anyone may call it; the money can only go to the treasury.
    /// @param programId The program.
    /// @return amount DigitalWon sent to the treasury.
    function withdrawExpired(uint256 programId) external returns (uint256 amount) {
        Program storage rules = _programs[programId];
        if (rules.expiry == 0) revert UnknownProgram(programId);
        if (!isExpired(programId)) revert ProgramNotExpired(programId);
        if (rules.withdrawn) revert AlreadyWithdrawn(programId);
        rules.withdrawn = true;
        Ledger storage l = _ledgers[programId];
        amount = l.locked;
        l.withdrawn = amount;
        l.locked = 0;
        l.unspent = 0;
        l.unclaimed = 0;
        totalLocked -= amount;
        emit ExpiredWithdrawn(programId, amount);
        token.safeTransfer(treasury, amount);
    }

    /// @notice Voucher balance; 0 for every holder once the program has expired.
    /// @param account The holder.
    /// @param id The program.
    /// @return The spendable balance.
    function balanceOf(address account, uint256 id) public view override returns (uint256) {
        if (isExpired(id)) return 0;
        return super.balanceOf(account, id);
    }

    // ---------------------------------------------------------------- pause and blacklist

    /// @notice Pause claims, payments and refunds in every program.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resume claims, payments and refunds.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @notice Pause or resume claims and payments in one program.
    /// @param programId The program.
    /// @param paused_ The new state.
    function setProgramPaused(uint256 programId, bool paused_) external onlyRole(PAUSER_ROLE) {
        if (_programs[programId].expiry == 0) revert UnknownProgram(programId);
        _programs[programId].paused = paused_;
        emit ProgramPauseSet(programId, paused_);
    }

    /// @notice Add an account to or remove it from the payment blacklist.
    /// @param account The payer or merchant.
    /// @param blacklisted_ The new state.
    function setBlacklisted(address account, bool blacklisted_) external onlyRole(BLACKLISTER_ROLE) {
        _blacklisted[account] = blacklisted_;
        emit BlacklistSet(account, blacklisted_);
    }

    /// @notice Whether an account is blacklisted.
    /// @param account The account.
    /// @return True if blacklisted.
    function isBlacklisted(address account) external view returns (bool) {
        return _blacklisted[account];
    }

    /// @notice ERC-165 support for ERC-1155 and AccessControl.
    /// @param interfaceId The interface id.
    /// @return True if supported.
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC1155, AccessControl)
        returns (bool)
    {
        return super.supportsInterface(interfaceId);
    }

    // ---------------------------------------------------------------- internals

    /// @dev Burn the vouchers, record the payment and send DigitalWon to the merchant.
    /// @param programId The program.
    /// @param payer The citizen.
    /// @param merchant The merchant.
    /// @param amount Amount.
    /// @param orderRef Order reference.
    /// @return paymentId The new payment's id.
    function _settle(
        uint256 programId,
        address payer,
        address merchant,
        uint256 amount,
        bytes32 orderRef
    ) private returns (uint256 paymentId) {
        uint256 day = _today();
        _dailyPaid[programId][payer][day] += amount;
        Ledger storage l = _ledgers[programId];
        l.locked -= amount;
        l.unspent -= amount;
        l.paidOut += amount;
        totalLocked -= amount;
        paymentId = ++paymentCount;
        _paymentHash[paymentId] =
            keccak256(abi.encode(PaymentRecord(programId, payer, merchant, amount, day)));
        _burn(payer, programId, amount);
        emit Paid(paymentId, programId, payer, merchant, amount, orderRef, day);
        token.safeTransfer(merchant, amount);
    }

    /// @dev Deadline, nonce, signature, then the payment rules.
    /// @param p The signed payment.
    /// @return The first failure, or `Reason.None`.
    function _checkSigned(Payment calldata p) private view returns (Reason) {
        if (block.timestamp > p.deadline) return Reason.DeadlinePassed;
        if (nonceUsed(p.payer, p.nonce)) return Reason.NonceUsed;
        if (!SignatureChecker.isValidSignatureNow(p.payer, paymentDigest(p), p.signature)) {
            return Reason.BadSignature;
        }
        return checkPayment(p.programId, p.payer, p.merchant, p.amount);
    }

    /// @dev The merchant rules: registered, active, category and district allowed.
    /// @param programId The program.
    /// @param merchant The merchant.
    /// @return The first failure, or `Reason.None`.
    function _merchantReason(uint256 programId, address merchant) private view returns (Reason) {
        MerchantRegistry.Merchant memory m = registry.merchantOf(merchant);
        if (m.businessNumberHash == bytes32(0)) return Reason.MerchantNotRegistered;
        if (!m.active) return Reason.MerchantSuspended;
        Reason reason = _categoryReason(programId, m.mcc);
        if (reason != Reason.None) return reason;
        if (_programs[programId].restrictDistricts && !_districtAllowed[programId][m.district]) {
            return Reason.DistrictNotAllowed;
        }
        return Reason.None;
    }

    /// @dev Whether a category is blocked or outside the allowed list.
    /// @param programId The program.
    /// @param mcc The category.
    /// @return The failure, or `Reason.None`.
    function _categoryReason(uint256 programId, uint16 mcc) private view returns (Reason) {
        uint8 rule = _categoryRule[programId][mcc];
        if (rule == CATEGORY_BLOCKED) return Reason.CategoryBlocked;
        if (_programs[programId].restrictCategories && rule != CATEGORY_ALLOWED) {
            return Reason.CategoryNotAllowed;
        }
        return Reason.None;
    }

    /// @dev Verify a leaf, mark it claimed or revoked and release it from the round's reserve.
    /// @param programId The program.
    /// @param roundId The round.
    /// @param recipient The citizen.
    /// @param amount The amount.
    /// @param proof The Merkle proof.
    /// @param status LEAF_CLAIMED or LEAF_REVOKED.
    function _settleLeaf(
        uint256 programId,
        uint256 roundId,
        address recipient,
        uint256 amount,
        bytes32[] calldata proof,
        uint8 status
    ) private {
        Round storage r = _rounds[programId][roundId];
        if (r.root == bytes32(0)) revert UnknownRound(roundId);
        bytes32 leaf = _leaf(recipient, amount, roundId);
        if (_leafStatus[programId][leaf] != LEAF_OPEN) revert LeafSettled(leaf);
        if (!MerkleProof.verifyCalldata(proof, r.root, leaf)) revert InvalidProof();
        uint256 limit = _programs[programId].perPersonAmount;
        if (limit != 0 && amount > limit) revert GrantAboveLimit(amount, limit);
        if (r.settled + amount > r.total) revert RoundOverdrawn(roundId);
        r.settled += amount;
        _leafStatus[programId][leaf] = status;
        _ledgers[programId].unclaimed -= amount;
    }

    /// @dev The StandardMerkleTree leaf of (recipient, amount, roundId).
    /// @param recipient The citizen.
    /// @param amount The amount.
    /// @param roundId The round.
    /// @return The leaf hash.
    function _leaf(address recipient, uint256 amount, uint256 roundId)
        private
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(recipient, amount, roundId))));
    }

    /// @dev Revert unless the program exists, has not expired and was not withdrawn.
    /// @param programId The program.
    function _requireLive(uint256 programId) private view {
        if (_programs[programId].expiry == 0) revert UnknownProgram(programId);
        if (isExpired(programId)) revert ProgramExpired(programId);
    }

    /// @dev Revert unless `amount` is available in the program's unallocated backing.
    /// @param programId The program.
    /// @param amount Amount needed.
    function _requireUnallocated(uint256 programId, uint256 amount) private view {
        Ledger storage l = _ledgers[programId];
        uint256 available = l.locked - l.unspent - l.unclaimed;
        if (amount > available) revert InsufficientUnallocated(amount, available);
    }

    /// @dev Today's day number in Korea time.
    /// @return The day number.
    function _today() private view returns (uint256) {
        return (block.timestamp + DAY_OFFSET) / 1 days;
    }

    /// @dev Vouchers are minted and burned only: any holder-to-holder movement reverts.
    /// @param from Sender (zero when minting).
    /// @param to Recipient (zero when burning).
    /// @param ids Program ids.
    /// @param values Amounts.
    function _update(address from, address to, uint256[] memory ids, uint256[] memory values)
        internal
        override
    {
        if (from != address(0) && to != address(0)) revert NonTransferable();
        super._update(from, to, ids, values);
    }
}
