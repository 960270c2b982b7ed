// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC2981} from "@openzeppelin/contracts/interfaces/IERC2981.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @title Gallery: the Busan digital art gallery market for PhotoNFTs, settled in DigitalWon
/// @notice Fixed-price listings and offers are EIP-712 signed orders (listing costs no gas: the
/// NFT stays in the seller's wallet, approved to the gallery). English auctions hold the NFT
/// and the highest bid in escrow. Every sale splits its price exactly:
/// `price = sellerProceeds + royalty + fee`, paid in DigitalWon in the same transaction that
/// moves the NFT. A moderator can freeze a reported token from sale; its owner can appeal.
/// @dev Design notes.
/// - Off-chain cancellation is enforceable: every fill also needs a short-lived co-signature
///   `FillAuth(orderHash, taker, deadline)` of the platform's `matcher` key (like a marketplace
///   "zone" or oracle co-signer). The platform stops co-signing an order the moment its maker
///   cancels it off chain, so it can no longer fill once the last co-signature expires (at most
///   `MAX_FILL_AUTH_TTL` later). On chain, `cancelOrder` kills one order and `incrementNonce`
///   kills all of a maker's orders. A filled or cancelled order is recorded by its hash forever.
/// - Nonces work like a counter: an order is valid only while its `nonce` equals the maker's
///   current `makerNonce`; `incrementNonce` therefore invalidates every order signed before
///   (all of them have a nonce below the new value) and an order can never be pre-signed to
///   survive a future bump.
/// - The order hash is the full EIP-712 digest (domain "BusanGallery", "1", chain id, this
///   contract), so it is unique across chains and deployments.
/// - Royalty is capped, never reverted on: `royalty = min(royaltyInfo, price - fee)`, so the
///   seller's proceeds are never negative and a token with an extreme royalty still sells
///   (the seller then receives 0). A zero royalty receiver means no royalty.
/// - The fee rate of an order is the one in force when it fills (capped by `MAX_FEE_BPS`); an
///   auction fixes the rate when it is created, so its seller knows the terms.
/// - Auction payouts (refunds of outbid bidders, proceeds, royalty, fee) never block: a payee
///   that cannot receive DigitalWon right now (paused, blocked) is credited a balance it can
///   `withdraw` later (pull fallback). Always
///   `DigitalWon.balanceOf(gallery) == totalBidEscrow + totalCredits`.
/// - Order fills deliver the NFT with `safeTransferFrom` (the buyer chose its own address);
///   auction settlement uses `transferFrom`, so a winner contract cannot block a settlement.
/// - Every external state-changing function is `nonReentrant` and follows
///   checks-effects-interactions; the token and the NFT are fixed at deployment.
contract Gallery is AccessControl, EIP712, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice Role that freezes and unfreezes tokens and cancels frozen auctions.
    bytes32 public constant MODERATOR_ROLE = keccak256("MODERATOR_ROLE");

    /// @notice EIP-712 typehash of a signed order.
    bytes32 public constant ORDER_TYPEHASH = keccak256(
        "Order(address maker,uint8 side,uint256 tokenId,uint256 price,uint64 expiry,uint256 nonce,uint256 salt)"
    );

    /// @notice EIP-712 typehash of the matcher's co-signature of a fill.
    bytes32 public constant FILL_AUTH_TYPEHASH =
        keccak256("FillAuth(bytes32 orderHash,address taker,uint64 deadline)");

    /// @notice Highest platform fee rate the admin may ever set (10%).
    uint256 public constant MAX_FEE_BPS = 1000;

    /// @notice Basis-point denominator (100%).
    uint256 public constant BPS = 10_000;

    /// @notice A bid this close to an auction's end pushes the end to now + EXTENSION.
    uint256 public constant EXTENSION = 10 minutes;

    /// @notice Longest auction (from its creation to its end).
    uint256 public constant MAX_AUCTION_DURATION = 90 days;

    /// @notice Longest validity of a matcher co-signature, counted from the block of the fill.
    uint256 public constant MAX_FILL_AUTH_TTL = 1 hours;

    /// @notice Order side: a listing (the maker sells).
    uint8 public constant SIDE_LISTING = 0;

    /// @notice Order side: an offer (the maker buys).
    uint8 public constant SIDE_OFFER = 1;

    /// @notice What happened to an order hash on chain.
    enum OrderStatus {
        Open,
        Filled,
        Cancelled
    }

    /// @notice Where an auction stands.
    enum AuctionState {
        None,
        Live,
        Settled,
        Cancelled
    }

    /// @notice How a sale came about (in `Sale`).
    enum SaleKind {
        Listing,
        Offer,
        Auction
    }

    /// @notice A signed fixed-price order.
    /// @param maker The signer: the seller of a listing, the buyer of an offer.
    /// @param side 0 = listing (sell), 1 = offer (buy).
    /// @param tokenId The PhotoNFT.
    /// @param price Price in DigitalWon (KRW); the buyer pays exactly this.
    /// @param expiry Unix time from which the order is no longer valid.
    /// @param nonce Must equal the maker's `makerNonce` when filled.
    /// @param salt Random value so that equal orders get different hashes.
    struct Order {
        address maker;
        uint8 side;
        uint256 tokenId;
        uint256 price;
        uint64 expiry;
        uint256 nonce;
        uint256 salt;
    }

    /// @notice The matcher's co-signature of one fill (the taker is the caller).
    /// @param deadline Last Unix time at which the co-signature is accepted.
    /// @param signature The matcher's signature over `FillAuth(orderHash, taker, deadline)`.
    struct FillAuthorization {
        uint64 deadline;
        bytes signature;
    }

    /// @notice An EIP-2612 permit of DigitalWon from the caller to this gallery.
    /// @param value Allowance granted.
    /// @param deadline Permit deadline.
    /// @param v Signature v.
    /// @param r Signature r.
    /// @param s Signature s.
    struct Permit {
        uint256 value;
        uint256 deadline;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// @notice An English auction.
    /// @param seller Owner of the NFT when the auction was created.
    /// @param startTime Bids accepted from this time.
    /// @param minIncrementBps Each bid must beat the highest by this share (at least 1 won).
    /// @param state Live, settled or cancelled.
    /// @param highestBidder Current winner (zero while there is no bid).
    /// @param endTime Bids accepted before this time (moves with late bids).
    /// @param feeBps Platform fee rate fixed at creation.
    /// @param tokenId The escrowed PhotoNFT.
    /// @param reserve Lowest acceptable first bid.
    /// @param highestBid Current highest bid, held in escrow.
    struct Auction {
        address seller;
        uint64 startTime;
        uint16 minIncrementBps;
        AuctionState state;
        address highestBidder;
        uint64 endTime;
        uint16 feeBps;
        uint256 tokenId;
        uint256 reserve;
        uint256 highestBid;
    }

    /// @notice How a price splits.
    /// @param proceeds To the seller: price - royalty - fee.
    /// @param royalty To the royalty receiver (capped at price - fee).
    /// @param receiver The ERC-2981 royalty receiver (zero if none).
    /// @param fee To the fee recipient.
    struct Split {
        uint256 proceeds;
        uint256 royalty;
        address receiver;
        uint256 fee;
    }

    /// @notice The DigitalWon token every price is paid in.
    IERC20 public immutable token;

    /// @notice The PhotoNFT contract (ERC-721 with ERC-2981 royalties).
    IERC721 public immutable nft;

    /// @notice Receives the platform fee.
    address public feeRecipient;

    /// @notice Platform fee rate in basis points (at most MAX_FEE_BPS).
    uint256 public feeBps;

    /// @notice The platform key that co-signs fills.
    address public matcher;

    /// @notice Number of auctions created (ids start at 1).
    uint256 public auctionCount;

    /// @notice DigitalWon held for the highest bids of live auctions.
    uint256 public totalBidEscrow;

    /// @notice DigitalWon held for payees whose payout failed (sum of `credits`).
    uint256 public totalCredits;

    /// @notice Current order nonce of each maker.
    mapping(address maker => uint256 nonce) public makerNonce;

    /// @notice Status of each order hash.
    mapping(bytes32 orderHash => OrderStatus status) public orderStatus;

    /// @notice DigitalWon each payee may withdraw (pull fallback).
    mapping(address payee => uint256 amount) public credits;

    /// @notice Reason code of a frozen token (zero when not frozen); the text lives off chain.
    mapping(uint256 tokenId => bytes32 reasonCode) public frozenReason;

    /// @notice The live auction of a token (0 when none).
    mapping(uint256 tokenId => uint256 auctionId) public activeAuctionOf;

    /// @dev Auctions by id.
    mapping(uint256 auctionId => Auction auction) private _auctions;

    /// @notice A sale settled: `price == price - royalty - fee + royalty + fee` went out exactly.
    /// @param ref The order hash, or the auction id as bytes32 for auctions.
    /// @param tokenId The token sold.
    /// @param seller Who sold (and received price - royalty - fee).
    /// @param buyer Who bought (and paid price).
    /// @param price Price in DigitalWon.
    /// @param royalty Royalty paid to `royaltyReceiver`.
    /// @param royaltyReceiver The ERC-2981 receiver (zero if none).
    /// @param fee Platform fee paid to the fee recipient.
    /// @param kind Listing, offer or auction.
    event Sale(
        bytes32 indexed ref,
        uint256 indexed tokenId,
        address indexed seller,
        address buyer,
        uint256 price,
        uint256 royalty,
        address royaltyReceiver,
        uint256 fee,
        SaleKind kind
    );

    /// @notice The maker cancelled one order on chain.
    /// @param orderHash The order's hash.
    /// @param maker The maker.
    event OrderCancelled(bytes32 indexed orderHash, address indexed maker);

    /// @notice The maker bumped its nonce; every order with a lower nonce is dead.
    /// @param maker The maker.
    /// @param newNonce The nonce new orders must carry.
    event NonceIncremented(address indexed maker, uint256 newNonce);

    /// @notice An auction was created and its NFT escrowed.
    /// @param auctionId The new id.
    /// @param tokenId The token.
    /// @param seller The seller.
    /// @param reserve Lowest first bid.
    /// @param startTime Bids from this time.
    /// @param endTime Bids before this time.
    /// @param minIncrementBps Minimum raise in basis points.
    event AuctionCreated(
        uint256 indexed auctionId,
        uint256 indexed tokenId,
        address indexed seller,
        uint256 reserve,
        uint64 startTime,
        uint64 endTime,
        uint16 minIncrementBps
    );

    /// @notice A bid became the highest.
    /// @param auctionId The auction.
    /// @param bidder The bidder.
    /// @param amount The bid, now in escrow.
    /// @param endTime The auction's end after this bid.
    event BidPlaced(uint256 indexed auctionId, address indexed bidder, uint256 amount, uint64 endTime);

    /// @notice A late bid pushed the end.
    /// @param auctionId The auction.
    /// @param endTime The new end.
    event AuctionExtended(uint256 indexed auctionId, uint64 endTime);

    /// @notice An auction ended: `winner` got the NFT for `amount` (zero winner: back to seller).
    /// @param auctionId The auction.
    /// @param winner The highest bidder, or zero when there was no bid.
    /// @param amount The winning bid, or 0.
    event AuctionSettled(uint256 indexed auctionId, address indexed winner, uint256 amount);

    /// @notice An auction was cancelled and its NFT returned to the seller.
    /// @param auctionId The auction.
    /// @param byModerator Whether a moderator cancelled it (frozen token).
    event AuctionCancelled(uint256 indexed auctionId, bool byModerator);

    /// @notice DigitalWon was paid out of escrow.
    /// @param payee Who received it.
    /// @param amount Amount.
    event Paid(address indexed payee, uint256 amount);

    /// @notice A payout failed and was credited for a later `withdraw`.
    /// @param payee Who may withdraw it.
    /// @param amount Amount credited.
    event Credited(address indexed payee, uint256 amount);

    /// @notice A payee withdrew its credit.
    /// @param payee Whose credit.
    /// @param to Where it went.
    /// @param amount Amount.
    event Withdrawn(address indexed payee, address indexed to, uint256 amount);

    /// @notice A moderator froze a token from sale.
    /// @param tokenId The token.
    /// @param reasonCode Opaque reason code (the text is kept off chain).
    /// @param moderator Who froze it.
    event Frozen(uint256 indexed tokenId, bytes32 indexed reasonCode, address indexed moderator);

    /// @notice A moderator lifted a freeze.
    /// @param tokenId The token.
    /// @param moderator Who unfroze it.
    event Unfrozen(uint256 indexed tokenId, address indexed moderator);

    /// @notice The owner of a frozen token asked for review (reviewed off chain).
    /// @param tokenId The token.
    /// @param owner The owner (or the seller of its live auction).
    event Appealed(uint256 indexed tokenId, address indexed owner);

    /// @notice The platform fee rate changed.
    /// @param feeBps New rate in basis points.
    event FeeBpsChanged(uint256 feeBps);

    /// @notice The fee recipient changed.
    /// @param feeRecipient New recipient.
    event FeeRecipientChanged(address feeRecipient);

    /// @notice The matcher key changed.
    /// @param matcher New matcher.
    event MatcherChanged(address matcher);

    /// @notice A required address is zero.
    error ZeroAddress();

    /// @notice The fee rate is above MAX_FEE_BPS.
    /// @param feeBps The rejected rate.
    error FeeTooHigh(uint256 feeBps);

    /// @notice A price, reserve or bid of zero.
    error ZeroPrice();

    /// @notice The order is of the other side (a listing given to acceptOffer or vice versa).
    /// @param side The order's side.
    error WrongSide(uint8 side);

    /// @notice The order's expiry has passed.
    /// @param expiry The order's expiry.
    error OrderExpired(uint64 expiry);

    /// @notice The order's nonce is not the maker's current nonce.
    /// @param nonce The order's nonce.
    /// @param current The maker's current nonce.
    error StaleNonce(uint256 nonce, uint256 current);

    /// @notice The order was already filled or cancelled.
    /// @param orderHash The order hash.
    /// @param status Its status.
    error OrderNotOpen(bytes32 orderHash, OrderStatus status);

    /// @notice The maker's signature does not match the order.
    error InvalidOrderSignature();

    /// @notice The matcher's co-signature is missing, wrong, for another taker or expired.
    error InvalidFillAuth();

    /// @notice The co-signature's deadline has passed.
    /// @param deadline The deadline.
    error FillAuthExpired(uint64 deadline);

    /// @notice The co-signature's deadline is further away than MAX_FILL_AUTH_TTL.
    /// @param deadline The deadline.
    error FillAuthTooLong(uint64 deadline);

    /// @notice The listing's maker no longer owns the token.
    /// @param tokenId The token.
    /// @param owner Its owner now.
    error StaleOrder(uint256 tokenId, address owner);

    /// @notice Buyer and seller are the same account.
    error SelfTrade();

    /// @notice The caller is not the order's maker.
    error NotMaker();

    /// @notice The caller does not own the token.
    /// @param tokenId The token.
    error NotTokenOwner(uint256 tokenId);

    /// @notice The token is frozen by a moderator.
    /// @param tokenId The token.
    /// @param reasonCode The reason code.
    error TokenFrozen(uint256 tokenId, bytes32 reasonCode);

    /// @notice The token is not frozen.
    /// @param tokenId The token.
    error NotFrozen(uint256 tokenId);

    /// @notice A freeze needs a non-zero reason code.
    error ZeroReason();

    /// @notice Start, end or increment of a new auction are out of range.
    error InvalidAuction();

    /// @notice The auction is not live (unknown, settled or cancelled).
    /// @param auctionId The auction.
    error AuctionNotLive(uint256 auctionId);

    /// @notice The auction has not started yet.
    /// @param startTime Its start.
    error AuctionNotStarted(uint64 startTime);

    /// @notice The auction is over (no more bids).
    /// @param endTime Its end.
    error AuctionEnded(uint64 endTime);

    /// @notice The auction has not ended yet (cannot settle).
    /// @param endTime Its end.
    error AuctionNotEnded(uint64 endTime);

    /// @notice The auction already has a bid (the seller can no longer cancel).
    error AuctionHasBids();

    /// @notice The caller is not the auction's seller.
    error NotSeller();

    /// @notice The seller cannot bid in its own auction.
    error SellerCannotBid();

    /// @notice The bid is below the reserve or the minimum raise.
    /// @param amount The bid.
    /// @param minimum The lowest acceptable bid.
    error BidTooLow(uint256 amount, uint256 minimum);

    /// @notice The caller has no credit to withdraw.
    error NothingToWithdraw();

    /// @notice Deploy the gallery.
    /// @param admin Gets DEFAULT_ADMIN_ROLE and MODERATOR_ROLE.
    /// @param token_ The DigitalWon token.
    /// @param nft_ The PhotoNFT contract (ERC-721 + ERC-2981).
    /// @param feeRecipient_ Receives the platform fee.
    /// @param feeBps_ Platform fee rate (at most MAX_FEE_BPS).
    /// @param matcher_ The platform key that co-signs fills.
    constructor(
        address admin,
        IERC20 token_,
        IERC721 nft_,
        address feeRecipient_,
        uint256 feeBps_,
        address matcher_
    ) EIP712("BusanGallery", "1") {
        if (
            admin == address(0) || address(token_) == address(0) || address(nft_) == address(0)
                || feeRecipient_ == address(0) || matcher_ == address(0)
        ) revert ZeroAddress();
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_);
        token = token_;
        nft = nft_;
        feeRecipient = feeRecipient_;
        feeBps = feeBps_;
        matcher = matcher_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MODERATOR_ROLE, admin);
    }

    // ---------------------------------------------------------------- administration

    /// @notice Set the platform fee rate for orders filled and auctions created from now on.
    /// @param feeBps_ New rate in basis points (at most MAX_FEE_BPS).
    function setFeeBps(uint256 feeBps_) external onlyRole(DEFAULT_ADMIN_ROLE) nonReentrant {
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_);
        feeBps = feeBps_;
        emit FeeBpsChanged(feeBps_);
    }

    /// @notice Set who receives the platform fee.
    /// @param feeRecipient_ New recipient (non-zero).
    function setFeeRecipient(address feeRecipient_)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
        nonReentrant
    {
        if (feeRecipient_ == address(0)) revert ZeroAddress();
        feeRecipient = feeRecipient_;
        emit FeeRecipientChanged(feeRecipient_);
    }

    /// @notice Set the platform key that co-signs fills (old co-signatures stop working).
    /// @param matcher_ New matcher (non-zero).
    function setMatcher(address matcher_) external onlyRole(DEFAULT_ADMIN_ROLE) nonReentrant {
        if (matcher_ == address(0)) revert ZeroAddress();
        matcher = matcher_;
        emit MatcherChanged(matcher_);
    }

    // ---------------------------------------------------------------- signed orders

    /// @notice The EIP-712 digest of an order: its hash, which the maker signs.
    /// @param order The order.
    /// @return The order hash.
    function hashOrder(Order calldata order) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    ORDER_TYPEHASH,
                    order.maker,
                    order.side,
                    order.tokenId,
                    order.price,
                    order.expiry,
                    order.nonce,
                    order.salt
                )
            )
        );
    }

    /// @notice The EIP-712 digest the matcher signs to let `taker` fill an order.
    /// @param orderHash The order hash.
    /// @param taker Who may fill (the caller of buy or acceptOffer).
    /// @param deadline Last time the co-signature is valid.
    /// @return The digest.
    function hashFillAuth(bytes32 orderHash, address taker, uint64 deadline)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(FILL_AUTH_TYPEHASH, orderHash, taker, deadline)));
    }

    /// @notice Buy a listed token: pay its price in DigitalWon (needs an allowance).
    /// @param order The seller's listing (side 0).
    /// @param signature The seller's signature of the order.
    /// @param auth The matcher's co-signature for the caller.
    function buy(Order calldata order, bytes calldata signature, FillAuthorization calldata auth)
        external
        nonReentrant
    {
        _fill(order, signature, auth, SaleKind.Listing);
    }

    /// @notice Buy a listed token, granting the DigitalWon allowance by an EIP-2612 permit.
    /// @dev A permit that fails (for example front-run and already used) is ignored; the payment
    /// then needs an allowance that is already in place.
    /// @param order The seller's listing (side 0).
    /// @param signature The seller's signature of the order.
    /// @param auth The matcher's co-signature for the caller.
    /// @param permit The caller's permit to this gallery.
    function buyWithPermit(
        Order calldata order,
        bytes calldata signature,
        FillAuthorization calldata auth,
        Permit calldata permit
    ) external nonReentrant {
        _permit(permit);
        _fill(order, signature, auth, SaleKind.Listing);
    }

    /// @notice Sell your token to an offer's maker, who pre-approved DigitalWon to the gallery.
    /// @param order The buyer's offer (side 1).
    /// @param signature The buyer's signature of the order.
    /// @param auth The matcher's co-signature for the caller.
    function acceptOffer(
        Order calldata order,
        bytes calldata signature,
        FillAuthorization calldata auth
    ) external nonReentrant {
        _fill(order, signature, auth, SaleKind.Offer);
    }

    /// @notice Cancel one of your orders on chain; it can never fill afterwards.
    /// @param order The order (the caller must be its maker).
    function cancelOrder(Order calldata order) external nonReentrant {
        if (order.maker != msg.sender) revert NotMaker();
        bytes32 orderHash = hashOrder(order);
        OrderStatus status = orderStatus[orderHash];
        if (status != OrderStatus.Open) revert OrderNotOpen(orderHash, status);
        orderStatus[orderHash] = OrderStatus.Cancelled;
        emit OrderCancelled(orderHash, msg.sender);
    }

    /// @notice Cancel all your orders at once: new orders must carry the new nonce.
    /// @return newNonce The nonce new orders must carry.
    function incrementNonce() external nonReentrant returns (uint256 newNonce) {
        newNonce = ++makerNonce[msg.sender];
        emit NonceIncremented(msg.sender, newNonce);
    }

    // ---------------------------------------------------------------- auctions

    /// @notice Auction your token: it moves into the gallery's escrow until the auction ends.
    /// @param tokenId The token (the gallery must be approved for it).
    /// @param reserve Lowest acceptable first bid (non-zero).
    /// @param startTime Bids accepted from this time (a past time means now).
    /// @param endTime Bids accepted before this time (at most MAX_AUCTION_DURATION from now).
    /// @param minIncrementBps Each new bid must beat the highest by this share (at most 100%).
    /// @return auctionId The new auction's id.
    function createAuction(
        uint256 tokenId,
        uint256 reserve,
        uint64 startTime,
        uint64 endTime,
        uint16 minIncrementBps
    ) external nonReentrant returns (uint256 auctionId) {
        if (nft.ownerOf(tokenId) != msg.sender) revert NotTokenOwner(tokenId);
        _requireNotFrozen(tokenId);
        if (reserve == 0) revert ZeroPrice();
        uint64 start = startTime < block.timestamp ? uint64(block.timestamp) : startTime;
        if (
            endTime <= start || endTime > block.timestamp + MAX_AUCTION_DURATION
                || minIncrementBps > BPS
        ) revert InvalidAuction();
        auctionId = ++auctionCount;
        Auction storage auction = _auctions[auctionId];
        auction.seller = msg.sender;
        auction.startTime = start;
        auction.endTime = endTime;
        auction.minIncrementBps = minIncrementBps;
        auction.feeBps = uint16(feeBps);
        auction.state = AuctionState.Live;
        auction.tokenId = tokenId;
        auction.reserve = reserve;
        activeAuctionOf[tokenId] = auctionId;
        emit AuctionCreated(auctionId, tokenId, msg.sender, reserve, start, endTime, minIncrementBps);
        nft.transferFrom(msg.sender, address(this), tokenId);
    }

    /// @notice Bid on an auction; the DigitalWon moves into escrow (needs an allowance).
    /// @dev The outbid bidder is refunded at once, or credited if that transfer fails.
    /// @param auctionId The auction.
    /// @param amount The bid (at least `minNextBid`).
    function bid(uint256 auctionId, uint256 amount) external nonReentrant {
        _bid(auctionId, amount);
    }

    /// @notice Bid on an auction, granting the allowance by an EIP-2612 permit.
    /// @param auctionId The auction.
    /// @param amount The bid (at least `minNextBid`).
    /// @param permit The caller's permit to this gallery.
    function bidWithPermit(uint256 auctionId, uint256 amount, Permit calldata permit)
        external
        nonReentrant
    {
        _permit(permit);
        _bid(auctionId, amount);
    }

    /// @notice Settle an ended auction (anyone may): the winner gets the NFT and the bid is split
    /// like a sale; without bids the NFT goes back to the seller.
    /// @dev A frozen token with a bid cannot be settled to the buyer: see cancelFrozenAuction.
    /// @param auctionId The auction.
    function settleAuction(uint256 auctionId) external nonReentrant {
        Auction storage auction = _liveAuction(auctionId);
        if (block.timestamp < auction.endTime) revert AuctionNotEnded(auction.endTime);
        address winner = auction.highestBidder;
        if (winner == address(0)) {
            _closeAuction(auction, AuctionState.Settled);
            emit AuctionSettled(auctionId, address(0), 0);
            nft.transferFrom(address(this), auction.seller, auction.tokenId);
            return;
        }
        _requireNotFrozen(auction.tokenId);
        uint256 price = auction.highestBid;
        _closeAuction(auction, AuctionState.Settled);
        totalBidEscrow -= price;
        Split memory split = _split(auction.tokenId, price, auction.feeBps);
        emit Sale(
            bytes32(auctionId), auction.tokenId, auction.seller, winner, price, split.royalty,
            split.receiver, split.fee, SaleKind.Auction
        );
        emit AuctionSettled(auctionId, winner, price);
        _payOrCredit(auction.seller, split.proceeds);
        _payOrCredit(split.receiver, split.royalty);
        _payOrCredit(feeRecipient, split.fee);
        nft.transferFrom(address(this), winner, auction.tokenId);
    }

    /// @notice Cancel your auction before its first bid; the NFT comes back.
    /// @param auctionId The auction.
    function cancelAuction(uint256 auctionId) external nonReentrant {
        Auction storage auction = _liveAuction(auctionId);
        if (auction.seller != msg.sender) revert NotSeller();
        if (auction.highestBidder != address(0)) revert AuctionHasBids();
        _closeAuction(auction, AuctionState.Cancelled);
        emit AuctionCancelled(auctionId, false);
        nft.transferFrom(address(this), auction.seller, auction.tokenId);
    }

    /// @notice Cancel the auction of a frozen token: refund the highest bidder, NFT to seller.
    /// @param auctionId The auction.
    function cancelFrozenAuction(uint256 auctionId)
        external
        onlyRole(MODERATOR_ROLE)
        nonReentrant
    {
        Auction storage auction = _liveAuction(auctionId);
        if (frozenReason[auction.tokenId] == bytes32(0)) revert NotFrozen(auction.tokenId);
        address bidder = auction.highestBidder;
        uint256 amount = auction.highestBid;
        _closeAuction(auction, AuctionState.Cancelled);
        totalBidEscrow -= amount;
        emit AuctionCancelled(auctionId, true);
        if (bidder != address(0)) _payOrCredit(bidder, amount);
        nft.transferFrom(address(this), auction.seller, auction.tokenId);
    }

    /// @notice Withdraw the DigitalWon credited to you after a failed payout.
    /// @param to Where to send it (non-zero).
    function withdraw(address to) external nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        uint256 amount = credits[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        credits[msg.sender] = 0;
        totalCredits -= amount;
        emit Withdrawn(msg.sender, to, amount);
        token.safeTransfer(to, amount);
    }

    // ---------------------------------------------------------------- moderation

    /// @notice Freeze a token from sale (stolen, copied, reported); updates the reason if frozen.
    /// @param tokenId The token.
    /// @param reasonCode Non-zero opaque code; the reason's text lives in the platform database.
    function freeze(uint256 tokenId, bytes32 reasonCode)
        external
        onlyRole(MODERATOR_ROLE)
        nonReentrant
    {
        if (reasonCode == bytes32(0)) revert ZeroReason();
        frozenReason[tokenId] = reasonCode;
        emit Frozen(tokenId, reasonCode, msg.sender);
    }

    /// @notice Lift a freeze.
    /// @param tokenId The token.
    function unfreeze(uint256 tokenId) external onlyRole(MODERATOR_ROLE) nonReentrant {
        if (frozenReason[tokenId] == bytes32(0)) revert NotFrozen(tokenId);
        delete frozenReason[tokenId];
        emit Unfrozen(tokenId, msg.sender);
    }

    /// @notice Ask for a review of your frozen token (the review happens off chain).
    /// @param tokenId The token (owned by the caller, or escrowed in the caller's auction).
    function appeal(uint256 tokenId) external nonReentrant {
        if (frozenReason[tokenId] == bytes32(0)) revert NotFrozen(tokenId);
        if (holderOf(tokenId) != msg.sender) revert NotTokenOwner(tokenId);
        emit Appealed(tokenId, msg.sender);
    }

    // ---------------------------------------------------------------- views

    /// @notice An auction's full record.
    /// @param auctionId The auction.
    /// @return The auction (state None when unknown).
    function auctionOf(uint256 auctionId) external view returns (Auction memory) {
        return _auctions[auctionId];
    }

    /// @notice The lowest bid an auction accepts now: the reserve, or the highest bid raised by
    /// `minIncrementBps` (rounded up, at least 1 won).
    /// @param auctionId The auction.
    /// @return The minimum bid.
    function minNextBid(uint256 auctionId) public view returns (uint256) {
        Auction storage auction = _auctions[auctionId];
        if (auction.highestBidder == address(0)) return auction.reserve;
        uint256 highest = auction.highestBid;
        uint256 raise = (highest * auction.minIncrementBps + BPS - 1) / BPS;
        return highest + (raise == 0 ? 1 : raise);
    }

    /// @notice Whether a token is frozen.
    /// @param tokenId The token.
    /// @return True if frozen.
    function isFrozen(uint256 tokenId) external view returns (bool) {
        return frozenReason[tokenId] != bytes32(0);
    }

    /// @notice Who holds a token: its owner, or the seller while it is escrowed in an auction.
    /// @param tokenId The token.
    /// @return The holder.
    function holderOf(uint256 tokenId) public view returns (address) {
        uint256 auctionId = activeAuctionOf[tokenId];
        if (auctionId != 0) return _auctions[auctionId].seller;
        return nft.ownerOf(tokenId);
    }

    /// @notice How an order fill at `price` would split now.
    /// @param tokenId The token.
    /// @param price The price.
    /// @return The split (proceeds, royalty, royalty receiver, fee).
    function quote(uint256 tokenId, uint256 price) external view returns (Split memory) {
        return _split(tokenId, price, feeBps);
    }

    // ---------------------------------------------------------------- internals

    /// @dev Check an order and its co-signature, mark it filled, pay and move the NFT.
    /// @param order The order.
    /// @param signature The maker's signature.
    /// @param auth The matcher's co-signature for the caller.
    /// @param kind Listing (caller buys) or offer (caller sells).
    function _fill(
        Order calldata order,
        bytes calldata signature,
        FillAuthorization calldata auth,
        SaleKind kind
    ) private {
        bytes32 orderHash = _checkOrder(order, signature, auth, kind);
        address owner = nft.ownerOf(order.tokenId);
        (address seller, address buyer) =
            kind == SaleKind.Listing ? (order.maker, msg.sender) : (msg.sender, order.maker);
        if (kind == SaleKind.Listing && owner != seller) revert StaleOrder(order.tokenId, owner);
        if (kind == SaleKind.Offer && owner != seller) revert NotTokenOwner(order.tokenId);
        if (buyer == seller) revert SelfTrade();
        _requireNotFrozen(order.tokenId);
        orderStatus[orderHash] = OrderStatus.Filled;
        Split memory split = _split(order.tokenId, order.price, feeBps);
        emit Sale(
            orderHash, order.tokenId, seller, buyer, order.price, split.royalty, split.receiver,
            split.fee, kind
        );
        _payFrom(buyer, seller, split.proceeds);
        _payFrom(buyer, split.receiver, split.royalty);
        _payFrom(buyer, feeRecipient, split.fee);
        nft.safeTransferFrom(seller, buyer, order.tokenId);
    }

    /// @dev Validate an order for a fill by the caller and return its hash.
    /// @param order The order.
    /// @param signature The maker's signature.
    /// @param auth The matcher's co-signature.
    /// @param kind Which side the order must be.
    /// @return orderHash The order hash.
    function _checkOrder(
        Order calldata order,
        bytes calldata signature,
        FillAuthorization calldata auth,
        SaleKind kind
    ) private view returns (bytes32 orderHash) {
        uint8 side = kind == SaleKind.Listing ? SIDE_LISTING : SIDE_OFFER;
        if (order.side != side) revert WrongSide(order.side);
        if (order.price == 0) revert ZeroPrice();
        if (block.timestamp >= order.expiry) revert OrderExpired(order.expiry);
        uint256 current = makerNonce[order.maker];
        if (order.nonce != current) revert StaleNonce(order.nonce, current);
        orderHash = hashOrder(order);
        OrderStatus status = orderStatus[orderHash];
        if (status != OrderStatus.Open) revert OrderNotOpen(orderHash, status);
        if (!SignatureChecker.isValidSignatureNow(order.maker, orderHash, signature)) {
            revert InvalidOrderSignature();
        }
        _checkFillAuth(orderHash, auth);
    }

    /// @dev Revert unless the matcher co-signed this fill for the caller and it is still fresh.
    /// @param orderHash The order hash.
    /// @param auth The co-signature.
    function _checkFillAuth(bytes32 orderHash, FillAuthorization calldata auth) private view {
        if (block.timestamp > auth.deadline) revert FillAuthExpired(auth.deadline);
        if (auth.deadline > block.timestamp + MAX_FILL_AUTH_TTL) {
            revert FillAuthTooLong(auth.deadline);
        }
        bytes32 digest = hashFillAuth(orderHash, msg.sender, auth.deadline);
        if (!SignatureChecker.isValidSignatureNow(matcher, digest, auth.signature)) {
            revert InvalidFillAuth();
        }
    }

    /// @dev Place the caller's bid, extend a closing auction, refund the previous bidder.
    /// @param auctionId The auction.
    /// @param amount The bid.
    function _bid(uint256 auctionId, uint256 amount) private {
        Auction storage auction = _liveAuction(auctionId);
        if (block.timestamp < auction.startTime) revert AuctionNotStarted(auction.startTime);
        if (block.timestamp >= auction.endTime) revert AuctionEnded(auction.endTime);
        _requireNotFrozen(auction.tokenId);
        if (msg.sender == auction.seller) revert SellerCannotBid();
        uint256 minimum = minNextBid(auctionId);
        if (amount < minimum) revert BidTooLow(amount, minimum);
        address previousBidder = auction.highestBidder;
        uint256 previousBid = auction.highestBid;
        auction.highestBidder = msg.sender;
        auction.highestBid = amount;
        totalBidEscrow = totalBidEscrow + amount - previousBid;
        if (auction.endTime - block.timestamp < EXTENSION) {
            auction.endTime = uint64(block.timestamp + EXTENSION);
            emit AuctionExtended(auctionId, auction.endTime);
        }
        emit BidPlaced(auctionId, msg.sender, amount, auction.endTime);
        token.safeTransferFrom(msg.sender, address(this), amount);
        if (previousBidder != address(0)) _payOrCredit(previousBidder, previousBid);
    }

    /// @dev The live auction `auctionId`, or revert.
    /// @param auctionId The auction.
    /// @return auction Its storage record.
    function _liveAuction(uint256 auctionId) private view returns (Auction storage auction) {
        auction = _auctions[auctionId];
        if (auction.state != AuctionState.Live) revert AuctionNotLive(auctionId);
    }

    /// @dev Mark an auction closed and release its token from `activeAuctionOf`.
    /// @param auction The auction.
    /// @param state Settled or Cancelled.
    function _closeAuction(Auction storage auction, AuctionState state) private {
        auction.state = state;
        delete activeAuctionOf[auction.tokenId];
    }

    /// @dev Split `price`: fee at `rate` (rounded down), royalty capped at price - fee.
    /// @param tokenId The token (for ERC-2981).
    /// @param price The price.
    /// @param rate Fee rate in basis points.
    /// @return split The split; its parts add up to `price` exactly.
    function _split(uint256 tokenId, uint256 price, uint256 rate)
        private
        view
        returns (Split memory split)
    {
        split.fee = price * rate / BPS;
        (split.receiver, split.royalty) = IERC2981(address(nft)).royaltyInfo(tokenId, price);
        if (split.receiver == address(0)) split.royalty = 0;
        if (split.royalty > price - split.fee) split.royalty = price - split.fee;
        split.proceeds = price - split.fee - split.royalty;
    }

    /// @dev Move `amount` DigitalWon from `from` to `to` (skips zero amounts).
    /// @param from Payer (approved the gallery).
    /// @param to Payee.
    /// @param amount Amount.
    function _payFrom(address from, address to, uint256 amount) private {
        if (amount != 0) token.safeTransferFrom(from, to, amount);
    }

    /// @dev Pay `amount` out of escrow, or credit it to `to` if the transfer fails.
    /// @param to Payee.
    /// @param amount Amount (zero does nothing).
    function _payOrCredit(address to, uint256 amount) private {
        if (amount == 0) return;
        if (token.trySafeTransfer(to, amount)) {
            emit Paid(to, amount);
            return;
        }
        credits[to] += amount;
        totalCredits += amount;
        emit Credited(to, amount);
    }

    /// @dev Use an EIP-2612 permit from the caller to this gallery; a failing permit is ignored.
    /// @param permit The permit.
    function _permit(Permit calldata permit) private {
        try IERC20Permit(address(token)).permit(
            msg.sender, address(this), permit.value, permit.deadline, permit.v, permit.r, permit.s
        ) {} catch {}
    }

    /// @dev Revert if the token is frozen.
    /// @param tokenId The token.
    function _requireNotFrozen(uint256 tokenId) private view {
        bytes32 reason = frozenReason[tokenId];
        if (reason != bytes32(0)) revert TokenFrozen(tokenId, reason);
    }
}
