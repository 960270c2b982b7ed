// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC165} from "@openzeppelin/contracts/interfaces/IERC165.sol";
import {IERC4906} from "@openzeppelin/contracts/interfaces/IERC4906.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

/// @title PhotoNFT: a studio's photographs as 1-of-1 NFTs, private until their owner publishes
/// @notice Photo studios registered by the platform hold MINTER_ROLE. A studio signs an EIP-712
/// `MintVoucher` for one photo (its sha256 content hash, two metadata CIDs, royalty, expiry and
/// a one-time claim key); the customer claims it without gas through the platform's relayer,
/// proving possession of the claim key (the secret in the QR code or link) by signing
/// `Claim(voucherId, to)`. A front-runner who copies the pending claim cannot redirect it.
/// Every token is 1-of-1: there are no editions and no fractions, and a content hash can be
/// minted only once, ever (2024 FSC guideline: such NFTs stay outside the virtual-asset rules).
/// Privacy: a portrait is personal data. A new token is private: `tokenURI` points at a public
/// stub (the hash and a placeholder) until the owner publishes it; then it points at the full
/// metadata. A transfer makes the token private again, so a new owner decides afresh.
/// Escrow: a market holding ESCROW_ROLE (the Gallery, while it auctions a token) is a custodian,
/// not a new owner. A transfer into such an escrow keeps the publication state and records the
/// beneficial owner (`escrowedFrom`); the token keeps it on its way back to that owner (no bids,
/// cancelled auction), and becomes private when it leaves the escrow for anyone else (the
/// auction's winner decides afresh). While escrowed, nobody may publish it, and only the
/// beneficial owner may unpublish it (privacy first: that hides the work and its auction page).
/// @dev Choices:
/// - Token ids are a counter starting at 1 (never a voucher id: voucher ids belong to each
///   studio's own namespace, so studios cannot collide with or cancel each other's vouchers).
/// - There is no burn at all: the content-hash registry is permanent, so a photo can never be
///   re-minted after a burn, and provenance is never cut.
/// - The full metadata CID is on chain from the claim on; keeping it private is the platform
///   gateway's job (it serves a private token's metadata and image to the owner only).
/// - Only the owner may publish; the owner or an approved operator may unpublish. While a token
///   is escrowed, only its beneficial owner may unpublish it (by call or by signature).
/// - A transfer from one escrow straight into another counts as a new owner (private), and
///   records the first escrow as the beneficial owner.
/// - Voucher `expiry` is the first second at which the voucher is no longer valid; signature
///   `deadline`s are the last second at which the signature is valid (as in ERC-2612).
/// - `Publish` and `ApprovalForAll` signatures share one sequential nonce per owner
///   (`nonces(owner)`).
/// No personal data is stored: only hashes, CIDs and addresses.
contract PhotoNFT is IERC4906, ERC721, ERC2981, AccessControl, EIP712, Nonces {
    /// @notice Role that grants and revokes the studios' MINTER_ROLE (the platform).
    bytes32 public constant STUDIO_ADMIN_ROLE = keccak256("STUDIO_ADMIN_ROLE");

    /// @notice Role of a market contract that takes tokens into escrow (the Gallery's auctions);
    /// moving a token into or back out of its escrow keeps the token's publication state.
    /// @dev Administered by DEFAULT_ADMIN_ROLE.
    bytes32 public constant ESCROW_ROLE = keccak256("ESCROW_ROLE");

    /// @notice Role of a registered studio's signing address.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @notice Largest royalty share, in basis points (10%).
    uint96 public constant MAX_ROYALTY_BPS = 1_000;

    /// @notice ERC-165 id of ERC-4906 (metadata update events).
    bytes4 public constant ERC4906_INTERFACE_ID = bytes4(0x49064906);

    /// @notice EIP-712 typehash of a studio's mint voucher.
    bytes32 public constant MINT_VOUCHER_TYPEHASH = keccak256(
        "MintVoucher(bytes32 contentHash,string metadataCid,string stubCid,address royaltyReceiver,uint96 royaltyBps,uint64 expiry,address claimKey,uint256 voucherId)"
    );

    /// @notice EIP-712 typehash of a claim, signed with the voucher's claim key.
    bytes32 public constant CLAIM_TYPEHASH = keccak256("Claim(uint256 voucherId,address to)");

    /// @notice EIP-712 typehash of an owner's gasless publish or unpublish.
    bytes32 public constant PUBLISH_TYPEHASH =
        keccak256("Publish(uint256 tokenId,bool published,uint256 nonce,uint256 deadline)");

    /// @notice EIP-712 typehash of a recipient's consent to publish a photo as it is claimed.
    bytes32 public constant PUBLISH_ON_CLAIM_TYPEHASH =
        keccak256("PublishOnClaim(bytes32 contentHash,address to,uint256 nonce,uint256 deadline)");

    /// @notice EIP-712 typehash of an owner's gasless operator approval.
    bytes32 public constant APPROVAL_FOR_ALL_TYPEHASH = keccak256(
        "ApprovalForAll(address owner,address operator,bool approved,uint256 nonce,uint256 deadline)"
    );

    /// @notice A photo to be minted, signed by a studio (EIP-712 `MintVoucher`).
    /// @param contentHash sha256 of the stored original image.
    /// @param metadataCid CID of the full metadata JSON (served while published).
    /// @param stubCid CID of the public stub metadata (hash and placeholder).
    /// @param royaltyReceiver Receiver of the ERC-2981 royalty (the photographer).
    /// @param royaltyBps Royalty share in basis points (at most MAX_ROYALTY_BPS).
    /// @param expiry The voucher is valid strictly before this Unix time.
    /// @param claimKey Address of the one-time claim key (its private key is the claim code).
    /// @param voucherId The studio's own id for the voucher (unique per studio).
    struct MintVoucher {
        bytes32 contentHash;
        string metadataCid;
        string stubCid;
        address royaltyReceiver;
        uint96 royaltyBps;
        uint64 expiry;
        address claimKey;
        uint256 voucherId;
    }

    /// @notice What is stored per token.
    /// @param contentHash sha256 of the original image.
    /// @param studio The studio that signed the voucher.
    /// @param published Whether the full metadata is public.
    /// @param metadataCid CID of the full metadata.
    /// @param stubCid CID of the public stub metadata.
    struct Photo {
        bytes32 contentHash;
        address studio;
        bool published;
        string metadataCid;
        string stubCid;
    }

    /// @notice Number of tokens minted so far; the last token id.
    uint256 public totalMinted;

    /// @dev tokenId => photo.
    mapping(uint256 tokenId => Photo photo) private _photos;
    /// @dev content hash => token id (0 = never minted); never cleared.
    mapping(bytes32 contentHash => uint256 tokenId) private _tokenOfContent;
    /// @dev studio => voucherId => claimed or cancelled.
    mapping(address studio => mapping(uint256 voucherId => bool used)) private _voucherUsed;

    /// @notice The beneficial owner of a token held by an ESCROW_ROLE holder (zero otherwise):
    /// the address it was transferred into escrow from.
    mapping(uint256 tokenId => address beneficialOwner) public escrowedFrom;

    /// @notice A voucher was claimed and its token minted.
    /// @param tokenId The new token.
    /// @param voucherId The studio's voucher id.
    /// @param studio The studio that signed the voucher.
    /// @param to The first owner.
    /// @param contentHash sha256 of the original image.
    event Claimed(
        uint256 indexed tokenId,
        uint256 voucherId,
        address indexed studio,
        address indexed to,
        bytes32 contentHash
    );

    /// @notice A studio cancelled an unclaimed voucher.
    /// @param studio The studio.
    /// @param voucherId The voucher id, now unusable.
    event VoucherCancelled(address indexed studio, uint256 indexed voucherId);

    /// @notice A token was published or made private.
    /// @param tokenId The token.
    /// @param published The new state.
    event PublishedSet(uint256 indexed tokenId, bool published);

    /// @notice The admin address is zero.
    error ZeroAdmin();
    /// @notice The recipient of a claim is the zero address.
    error ZeroRecipient();
    /// @notice The voucher's content hash is zero.
    error ZeroContentHash();
    /// @notice A metadata or stub CID is empty.
    error EmptyCid();
    /// @notice The voucher has expired.
    /// @param expiry The voucher's expiry.
    error VoucherExpired(uint64 expiry);
    /// @notice The voucher was already claimed or cancelled.
    /// @param studio The studio.
    /// @param voucherId The voucher id.
    error VoucherUsed(address studio, uint256 voucherId);
    /// @notice A token with this content hash exists already.
    /// @param contentHash The hash.
    /// @param tokenId The existing token.
    error ContentAlreadyMinted(bytes32 contentHash, uint256 tokenId);
    /// @notice The studio signature is malformed.
    error BadStudioSignature();
    /// @notice The voucher's signer does not hold MINTER_ROLE now.
    /// @param signer The recovered signer.
    error NotMinter(address signer);
    /// @notice The claim signature is not by the voucher's claim key.
    error BadClaimSignature();
    /// @notice The royalty share is above the maximum.
    /// @param royaltyBps The share asked for.
    /// @param maxBps The maximum.
    error RoyaltyTooHigh(uint96 royaltyBps, uint96 maxBps);
    /// @notice Only the token's owner may publish it.
    /// @param caller The caller.
    error NotTokenOwner(address caller);
    /// @notice The token is in escrow: it cannot be published until it leaves the escrow.
    /// @param tokenId The token.
    error TokenInEscrow(uint256 tokenId);
    /// @notice The signature's deadline has passed.
    /// @param deadline The deadline.
    error SignatureExpired(uint256 deadline);
    /// @notice The signature is not by the owner (EOA or ERC-1271 wallet).
    error BadOwnerSignature();

    /// @notice Deploy the contract; `admin` (the platform) gets DEFAULT_ADMIN and STUDIO_ADMIN.
    /// @param admin The operator account of the platform.
    constructor(address admin) ERC721("Busan PhotoNFT", "BPHOTO") EIP712("PhotoNFT", "1") {
        if (admin == address(0)) revert ZeroAdmin();
        _setRoleAdmin(MINTER_ROLE, STUDIO_ADMIN_ROLE);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(STUDIO_ADMIN_ROLE, admin);
    }

    // ---------------------------------------------------------------- lazy mint

    /// @notice Mint the voucher's photo to `to`; anyone (the platform's relayer) may submit.
    /// @param v The voucher signed by a studio holding MINTER_ROLE now.
    /// @param studioSig The studio's 65-byte signature over `v`.
    /// @param to The first owner (custodial or linked wallet).
    /// @param claimSig Signature over `Claim(v.voucherId, to)` by `v.claimKey`.
    /// @return tokenId The new token's id.
    function claim(
        MintVoucher calldata v,
        bytes calldata studioSig,
        address to,
        bytes calldata claimSig
    ) external returns (uint256 tokenId) {
        tokenId = _claim(v, studioSig, to, claimSig);
    }

    /// @notice Claim like `claim` and publish the new token in the same transaction, with the
    /// recipient's signed consent: one block instead of two for "claim and show it".
    /// @dev The consent names the content hash, so it fits exactly one token; it uses the
    /// recipient's next nonce, like `setPublishedWithSig`.
    /// @param v The voucher signed by a studio holding MINTER_ROLE now.
    /// @param studioSig The studio's 65-byte signature over `v`.
    /// @param to The first owner, who consents to publishing.
    /// @param claimSig Signature over `Claim(v.voucherId, to)` by `v.claimKey`.
    /// @param deadline Last Unix time at which the consent is valid.
    /// @param publishSig `to`'s signature over `PublishOnClaim(v.contentHash, to, nonce, deadline)`.
    /// @return tokenId The new, published token's id.
    function claimAndPublish(
        MintVoucher calldata v,
        bytes calldata studioSig,
        address to,
        bytes calldata claimSig,
        uint256 deadline,
        bytes calldata publishSig
    ) external returns (uint256 tokenId) {
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        bytes32 digest = publishOnClaimDigest(v.contentHash, to, _useNonce(to), deadline);
        if (!SignatureChecker.isValidSignatureNow(to, digest, publishSig)) revert BadOwnerSignature();
        tokenId = _claim(v, studioSig, to, claimSig);
        if (_ownerOf(tokenId) != to) revert NotTokenOwner(to);
        _setPublished(tokenId, true);
    }

    /// @notice Check a voucher and its claim, then record and mint the token.
    /// @param v The voucher.
    /// @param studioSig The studio's signature over `v`.
    /// @param to The first owner.
    /// @param claimSig The claim key's signature.
    /// @return tokenId The new token's id.
    function _claim(
        MintVoucher calldata v,
        bytes calldata studioSig,
        address to,
        bytes calldata claimSig
    ) internal returns (uint256 tokenId) {
        if (to == address(0)) revert ZeroRecipient();
        _checkVoucherFields(v);
        address studio = _recoverStudio(v, studioSig);
        if (_voucherUsed[studio][v.voucherId]) revert VoucherUsed(studio, v.voucherId);
        uint256 existing = _tokenOfContent[v.contentHash];
        if (existing != 0) revert ContentAlreadyMinted(v.contentHash, existing);
        _checkClaimSignature(v, to, claimSig);
        tokenId = _record(v, studio);
        emit Claimed(tokenId, v.voucherId, studio, to, v.contentHash);
        _safeMint(to, tokenId);
    }

    /// @notice Cancel one of your unclaimed vouchers (studio only); it can never be claimed.
    /// @param voucherId The voucher id in the caller's namespace.
    function cancelVoucher(uint256 voucherId) external onlyRole(MINTER_ROLE) {
        address studio = _msgSender();
        if (_voucherUsed[studio][voucherId]) revert VoucherUsed(studio, voucherId);
        _voucherUsed[studio][voucherId] = true;
        emit VoucherCancelled(studio, voucherId);
    }

    /// @notice Whether a studio's voucher was claimed or cancelled.
    /// @param studio The studio's signing address.
    /// @param voucherId The voucher id.
    /// @return True if used.
    function voucherUsed(address studio, uint256 voucherId) external view returns (bool) {
        return _voucherUsed[studio][voucherId];
    }

    /// @notice The token minted for a content hash (0 if none, ever).
    /// @param contentHash sha256 of an original image.
    /// @return The token id, or 0.
    function tokenOfContent(bytes32 contentHash) external view returns (uint256) {
        return _tokenOfContent[contentHash];
    }

    /// @notice The stored record of a token.
    /// @param tokenId The token (must exist).
    /// @return The photo record.
    function photo(uint256 tokenId) external view returns (Photo memory) {
        _requireOwned(tokenId);
        return _photos[tokenId];
    }

    /// @notice The EIP-712 digest a studio signs for a voucher.
    /// @param v The voucher.
    /// @return The digest.
    function voucherDigest(MintVoucher calldata v) public view returns (bytes32) {
        bytes memory head = abi.encode(
            MINT_VOUCHER_TYPEHASH,
            v.contentHash,
            keccak256(bytes(v.metadataCid)),
            keccak256(bytes(v.stubCid))
        );
        bytes memory tail =
            abi.encode(v.royaltyReceiver, v.royaltyBps, v.expiry, v.claimKey, v.voucherId);
        return _hashTypedDataV4(keccak256(bytes.concat(head, tail)));
    }

    /// @notice The EIP-712 digest the claim key signs.
    /// @param voucherId The voucher id.
    /// @param to The recipient.
    /// @return The digest.
    function claimDigest(uint256 voucherId, address to) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(CLAIM_TYPEHASH, voucherId, to)));
    }

    // ---------------------------------------------------------------- privacy

    /// @notice Publish (owner only) or unpublish (owner or approved) a token; while it is in
    /// escrow, only its beneficial owner may unpublish it and nobody may publish it.
    /// @param tokenId The token.
    /// @param published True to show the full metadata, false for the public stub.
    function setPublished(uint256 tokenId, bool published) external {
        address owner = _requireOwned(tokenId);
        address beneficial = escrowedFrom[tokenId];
        if (beneficial != address(0)) {
            _checkEscrowedChange(tokenId, published, beneficial, _msgSender());
        } else if (published) {
            if (_msgSender() != owner) revert NotTokenOwner(_msgSender());
        } else {
            _checkAuthorized(owner, _msgSender(), tokenId);
        }
        _setPublished(tokenId, published);
    }

    /// @notice Publish or unpublish with the owner's EIP-712 `Publish` signature (gasless).
    /// @dev While the token is in escrow the signer must be its beneficial owner, and only an
    /// unpublish is accepted.
    /// @param tokenId The token.
    /// @param published The new state.
    /// @param deadline Last Unix time at which the signature is valid.
    /// @param sig The owner's signature (uses the owner's next nonce).
    function setPublishedWithSig(uint256 tokenId, bool published, uint256 deadline, bytes calldata sig)
        external
    {
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        address owner = _requireOwned(tokenId);
        address beneficial = escrowedFrom[tokenId];
        if (beneficial != address(0)) {
            if (published) revert TokenInEscrow(tokenId);
            owner = beneficial;
        }
        bytes32 digest = publishDigest(tokenId, published, _useNonce(owner), deadline);
        if (!SignatureChecker.isValidSignatureNow(owner, digest, sig)) revert BadOwnerSignature();
        _setPublished(tokenId, published);
    }

    /// @notice Whether a token's full metadata is public.
    /// @param tokenId The token (must exist).
    /// @return True if published.
    function isPublished(uint256 tokenId) external view returns (bool) {
        _requireOwned(tokenId);
        return _photos[tokenId].published;
    }

    /// @notice `ipfs://<metadataCid>` when published, else `ipfs://<stubCid>`.
    /// @param tokenId The token (must exist).
    /// @return The metadata URI.
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        Photo storage p = _photos[tokenId];
        return string.concat("ipfs://", p.published ? p.metadataCid : p.stubCid);
    }

    /// @notice The EIP-712 digest an owner signs to publish or unpublish.
    /// @param tokenId The token.
    /// @param published The new state.
    /// @param nonce The owner's nonce.
    /// @param deadline The signature's deadline.
    /// @return The digest.
    function publishDigest(uint256 tokenId, bool published, uint256 nonce, uint256 deadline)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(
            keccak256(abi.encode(PUBLISH_TYPEHASH, tokenId, published, nonce, deadline))
        );
    }

    /// @notice The EIP-712 digest a recipient signs to publish a photo as it is claimed.
    /// @param contentHash The voucher's content hash (one token at most).
    /// @param to The recipient.
    /// @param nonce The recipient's nonce.
    /// @param deadline The signature's deadline.
    /// @return The digest.
    function publishOnClaimDigest(bytes32 contentHash, address to, uint256 nonce, uint256 deadline)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(
            keccak256(abi.encode(PUBLISH_ON_CLAIM_TYPEHASH, contentHash, to, nonce, deadline))
        );
    }

    // ---------------------------------------------------------------- gasless approval

    /// @notice Approve or revoke an operator for all of `owner`'s tokens by signature.
    /// @dev Lets custodial owners, who hold no gas, list on the Gallery.
    /// @param owner The token owner (the signer).
    /// @param operator The operator (e.g. the Gallery contract).
    /// @param approved True to approve, false to revoke.
    /// @param nonce The owner's current nonce (`nonces(owner)`).
    /// @param deadline Last Unix time at which the signature is valid.
    /// @param sig The owner's EIP-712 `ApprovalForAll` signature (EOA or ERC-1271).
    function setApprovalForAllWithSig(
        address owner,
        address operator,
        bool approved,
        uint256 nonce,
        uint256 deadline,
        bytes calldata sig
    ) external {
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        _useCheckedNonce(owner, nonce);
        bytes32 digest = approvalForAllDigest(owner, operator, approved, nonce, deadline);
        if (!SignatureChecker.isValidSignatureNow(owner, digest, sig)) revert BadOwnerSignature();
        _setApprovalForAll(owner, operator, approved);
    }

    /// @notice The EIP-712 digest an owner signs to approve an operator.
    /// @param owner The owner.
    /// @param operator The operator.
    /// @param approved The approval state.
    /// @param nonce The owner's nonce.
    /// @param deadline The signature's deadline.
    /// @return The digest.
    function approvalForAllDigest(
        address owner,
        address operator,
        bool approved,
        uint256 nonce,
        uint256 deadline
    ) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(APPROVAL_FOR_ALL_TYPEHASH, owner, operator, approved, nonce, deadline)
            )
        );
    }

    // ---------------------------------------------------------------- ERC-165

    /// @notice ERC-165: ERC-721 (+ Metadata), ERC-2981, ERC-4906 and AccessControl.
    /// @param interfaceId The interface id.
    /// @return True if implemented.
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(IERC165, ERC721, ERC2981, AccessControl)
        returns (bool)
    {
        return interfaceId == ERC4906_INTERFACE_ID || ERC721.supportsInterface(interfaceId)
            || ERC2981.supportsInterface(interfaceId) || AccessControl.supportsInterface(interfaceId);
    }

    // ---------------------------------------------------------------- internals

    /// @notice Reject vouchers with a zero hash, empty CIDs or a royalty above the cap.
    /// @param v The voucher.
    function _checkVoucherFields(MintVoucher calldata v) internal view {
        if (v.royaltyBps > MAX_ROYALTY_BPS) revert RoyaltyTooHigh(v.royaltyBps, MAX_ROYALTY_BPS);
        if (block.timestamp >= v.expiry) revert VoucherExpired(v.expiry);
        if (v.contentHash == bytes32(0)) revert ZeroContentHash();
        if (bytes(v.metadataCid).length == 0 || bytes(v.stubCid).length == 0) revert EmptyCid();
    }

    /// @notice The studio that signed `v`; it must hold MINTER_ROLE now.
    /// @param v The voucher.
    /// @param studioSig The signature.
    /// @return studio The signer.
    function _recoverStudio(MintVoucher calldata v, bytes calldata studioSig)
        internal
        view
        returns (address studio)
    {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(voucherDigest(v), studioSig);
        if (err != ECDSA.RecoverError.NoError) revert BadStudioSignature();
        if (!hasRole(MINTER_ROLE, signer)) revert NotMinter(signer);
        return signer;
    }

    /// @notice Require `claimSig` to be the claim key's signature of `Claim(voucherId, to)`.
    /// @param v The voucher (gives the claim key and voucher id).
    /// @param to The recipient.
    /// @param claimSig The signature.
    function _checkClaimSignature(MintVoucher calldata v, address to, bytes calldata claimSig)
        internal
        view
    {
        (address signer, ECDSA.RecoverError err,) =
            ECDSA.tryRecover(claimDigest(v.voucherId, to), claimSig);
        if (err != ECDSA.RecoverError.NoError || signer != v.claimKey) revert BadClaimSignature();
    }

    /// @notice Mark the voucher used and store the new token's record and royalty.
    /// @param v The voucher.
    /// @param studio Its signer.
    /// @return tokenId The new token id.
    function _record(MintVoucher calldata v, address studio) internal returns (uint256 tokenId) {
        tokenId = ++totalMinted;
        _voucherUsed[studio][v.voucherId] = true;
        _tokenOfContent[v.contentHash] = tokenId;
        _photos[tokenId] = Photo({
            contentHash: v.contentHash,
            studio: studio,
            published: false,
            metadataCid: v.metadataCid,
            stubCid: v.stubCid
        });
        if (v.royaltyBps > 0) _setTokenRoyalty(tokenId, v.royaltyReceiver, v.royaltyBps);
    }

    /// @notice Store the publication state and tell indexers (ERC-4906).
    /// @param tokenId The token.
    /// @param published The new state.
    function _setPublished(uint256 tokenId, bool published) internal {
        _photos[tokenId].published = published;
        emit PublishedSet(tokenId, published);
        emit MetadataUpdate(tokenId);
    }

    /// @notice Allow an escrowed token's change only as an unpublish by its beneficial owner.
    /// @param tokenId The token.
    /// @param published The state asked for.
    /// @param beneficial The beneficial owner (`escrowedFrom[tokenId]`).
    /// @param caller The caller.
    function _checkEscrowedChange(uint256 tokenId, bool published, address beneficial, address caller)
        internal
        pure
    {
        if (published) revert TokenInEscrow(tokenId);
        if (caller != beneficial) revert NotTokenOwner(caller);
    }

    /// @notice ERC-721 hook: a transfer to a new owner makes a published token private again.
    /// @dev Escrow moves keep the state: into an ESCROW_ROLE holder (recording the beneficial
    /// owner), and out of escrow back to that beneficial owner. Leaving escrow for anyone else
    /// is a new owner. MetadataUpdate is emitted only when the state changes.
    /// @param to The new owner.
    /// @param tokenId The token.
    /// @param auth The caller checked for approval (or zero).
    /// @return from The previous owner.
    function _update(address to, uint256 tokenId, address auth)
        internal
        override
        returns (address from)
    {
        from = super._update(to, tokenId, auth);
        if (from == address(0) || from == to) return from;
        address beneficial = escrowedFrom[tokenId];
        bool leaving = beneficial != address(0);
        if (leaving) delete escrowedFrom[tokenId];
        bool returning = leaving && to == beneficial;
        bool entering = !returning && hasRole(ESCROW_ROLE, to);
        if (entering) escrowedFrom[tokenId] = from;
        bool keep = returning || (entering && !leaving);
        if (!keep && _photos[tokenId].published) _setPublished(tokenId, false);
    }
}
