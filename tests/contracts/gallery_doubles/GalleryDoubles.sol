// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";

/// @title BlockableWon: a DigitalWon stand-in whose owner can block accounts from receiving
/// @notice Test double only (never deployed by the platform): lets the Gallery tests make one
/// payee's incoming transfers fail while everyone else's succeed, as a token blacklist would.
contract BlockableWon is ERC20, ERC20Permit {
    /// @notice Accounts that cannot receive.
    mapping(address account => bool blocked) public blocked;

    /// @notice A blocked account was sent tokens.
    /// @param account The account.
    error Blocked(address account);

    /// @notice Deploy with no supply.
    constructor() ERC20("DigitalWon", "KRWD") ERC20Permit("DigitalWon") {}

    /// @notice Mint test money.
    /// @param to Receiver.
    /// @param amount Amount.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Block or unblock an account from receiving.
    /// @param account The account.
    /// @param isBlocked Whether it is blocked.
    function setBlocked(address account, bool isBlocked) external {
        blocked[account] = isBlocked;
    }

    /// @notice Whole won.
    /// @return 0.
    function decimals() public pure override returns (uint8) {
        return 0;
    }

    /// @dev Refuse transfers to blocked accounts.
    /// @param from Sender.
    /// @param to Receiver.
    /// @param value Amount.
    function _update(address from, address to, uint256 value) internal override {
        if (blocked[to]) revert Blocked(to);
        super._update(from, to, value);
    }
}

/// @title GreedyRoyaltyNFT: an ERC-721 whose royalty may exceed what a sale can pay
/// @notice Test double only: royalties up to 100% (PhotoNFT caps them at 10%), to exercise the
/// Gallery's royalty cap.
contract GreedyRoyaltyNFT is ERC721, ERC2981 {
    /// @notice Deploy.
    constructor() ERC721("Greedy", "GRD") {}

    /// @notice Mint `tokenId` to `to` with a royalty of `bps` to `receiver`.
    /// @param to Owner.
    /// @param tokenId Token.
    /// @param receiver Royalty receiver (zero allowed through the raw setter below).
    /// @param bps Royalty in basis points (at most 10000).
    function mint(address to, uint256 tokenId, address receiver, uint96 bps) external {
        _mint(to, tokenId);
        if (receiver != address(0)) _setTokenRoyalty(tokenId, receiver, bps);
    }

    /// @notice ERC-165.
    /// @param interfaceId The interface.
    /// @return Whether supported.
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC721, ERC2981)
        returns (bool)
    {
        return super.supportsInterface(interfaceId);
    }
}

interface IGalleryFill {
    struct Order {
        address maker;
        uint8 side;
        uint256 tokenId;
        uint256 price;
        uint64 expiry;
        uint256 nonce;
        uint256 salt;
    }

    struct FillAuthorization {
        uint64 deadline;
        bytes signature;
    }

    function buy(Order calldata order, bytes calldata signature, FillAuthorization calldata auth)
        external;

    function incrementNonce() external returns (uint256);
}

/// @title ReentrantBuyer: buys a listing and re-enters the gallery when the NFT arrives
/// @notice Test double only: its `onERC721Received` calls back into the gallery.
contract ReentrantBuyer {
    /// @notice The gallery under attack.
    IGalleryFill public immutable gallery;

    /// @notice Deploy against a gallery and approve it for `token`.
    /// @param gallery_ The gallery.
    /// @param token The payment token.
    constructor(IGalleryFill gallery_, ERC20 token) {
        gallery = gallery_;
        token.approve(address(gallery_), type(uint256).max);
    }

    /// @notice Buy a listing through the gallery.
    /// @param order The listing.
    /// @param signature The seller's signature.
    /// @param auth The matcher's co-signature for this contract.
    function attack(
        IGalleryFill.Order calldata order,
        bytes calldata signature,
        IGalleryFill.FillAuthorization calldata auth
    ) external {
        gallery.buy(order, signature, auth);
    }

    /// @notice ERC-721 receiver hook: re-enter the gallery.
    /// @return Never returns normally while the gallery is guarded.
    function onERC721Received(address, address, uint256, bytes calldata)
        external
        returns (bytes4)
    {
        gallery.incrementNonce();
        return this.onERC721Received.selector;
    }
}
