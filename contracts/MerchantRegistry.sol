// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title MerchantRegistry: the shops that may accept Busan policy vouchers
/// @notice Each merchant address carries a hash of its business registration number, an ISO 18245
/// merchant category code, a Busan administrative district code (for example 26350, Haeundae-gu)
/// and an active flag. Only the registrar role changes entries.
/// @dev No personal data on chain: the business number is stored only as an opaque hash (the
/// platform salts it off chain). A merchant is registered when its hash is non-zero.
contract MerchantRegistry is AccessControl {
    /// @notice Role that adds, updates, suspends and reactivates merchants.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    /// @notice Lowest Busan district code (the city's prefix 26 followed by three digits).
    uint32 public constant MIN_DISTRICT = 26000;

    /// @notice Highest Busan district code.
    uint32 public constant MAX_DISTRICT = 26999;

    /// @notice Highest ISO 18245 merchant category code (four digits).
    uint16 public constant MAX_MCC = 9999;

    /// @notice What the chain knows about one merchant.
    /// @param businessNumberHash Hash of the business registration number (zero = not registered).
    /// @param mcc ISO 18245 merchant category code.
    /// @param district Busan administrative district code.
    /// @param active Whether the merchant may currently accept payments.
    struct Merchant {
        bytes32 businessNumberHash;
        uint16 mcc;
        uint32 district;
        bool active;
    }

    /// @dev merchant address => entry.
    mapping(address merchant => Merchant entry) private _merchants;

    /// @notice A merchant was registered (and is active).
    /// @param merchant The merchant's address.
    /// @param businessNumberHash Hash of its business registration number.
    /// @param mcc Its category code.
    /// @param district Its district code.
    event MerchantRegistered(
        address indexed merchant, bytes32 businessNumberHash, uint16 mcc, uint32 district
    );

    /// @notice A merchant's details changed.
    /// @param merchant The merchant's address.
    /// @param businessNumberHash The new business number hash.
    /// @param mcc The new category code.
    /// @param district The new district code.
    event MerchantUpdated(
        address indexed merchant, bytes32 businessNumberHash, uint16 mcc, uint32 district
    );

    /// @notice A merchant was suspended: it can no longer accept payments.
    /// @param merchant The merchant's address.
    event MerchantSuspended(address indexed merchant);

    /// @notice A suspended merchant was reactivated.
    /// @param merchant The merchant's address.
    event MerchantReactivated(address indexed merchant);

    /// @notice The admin address is the zero address.
    error ZeroAdmin();

    /// @notice The merchant address is the zero address.
    error ZeroMerchant();

    /// @notice The business number hash is zero.
    error ZeroBusinessNumberHash();

    /// @notice The category code is not a four-digit ISO 18245 code.
    /// @param mcc The rejected code.
    error InvalidCategory(uint16 mcc);

    /// @notice The district code is not a Busan district (26000-26999).
    /// @param district The rejected code.
    error InvalidDistrict(uint32 district);

    /// @notice The merchant is already registered.
    /// @param merchant The merchant's address.
    error AlreadyRegistered(address merchant);

    /// @notice The merchant is not registered.
    /// @param merchant The address.
    error NotRegistered(address merchant);

    /// @notice The merchant is already suspended.
    /// @param merchant The merchant's address.
    error AlreadySuspended(address merchant);

    /// @notice The merchant is already active.
    /// @param merchant The merchant's address.
    error AlreadyActive(address merchant);

    /// @notice Deploy the registry; `admin` gets the admin and registrar roles.
    /// @param admin The operator account of the platform.
    constructor(address admin) {
        if (admin == address(0)) revert ZeroAdmin();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGISTRAR_ROLE, admin);
    }

    /// @notice Register a new, active merchant.
    /// @param merchant The merchant's payment address.
    /// @param businessNumberHash Non-zero hash of its business registration number.
    /// @param mcc ISO 18245 category code (1-9999).
    /// @param district Busan district code (26000-26999).
    function register(address merchant, bytes32 businessNumberHash, uint16 mcc, uint32 district)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        if (merchant == address(0)) revert ZeroMerchant();
        if (_merchants[merchant].businessNumberHash != bytes32(0)) {
            revert AlreadyRegistered(merchant);
        }
        _validate(businessNumberHash, mcc, district);
        _merchants[merchant] = Merchant(businessNumberHash, mcc, district, true);
        emit MerchantRegistered(merchant, businessNumberHash, mcc, district);
    }

    /// @notice Change a registered merchant's details; its active flag is kept.
    /// @param merchant The merchant's address.
    /// @param businessNumberHash Non-zero hash of its business registration number.
    /// @param mcc ISO 18245 category code (1-9999).
    /// @param district Busan district code (26000-26999).
    function update(address merchant, bytes32 businessNumberHash, uint16 mcc, uint32 district)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        Merchant storage entry = _registered(merchant);
        _validate(businessNumberHash, mcc, district);
        entry.businessNumberHash = businessNumberHash;
        entry.mcc = mcc;
        entry.district = district;
        emit MerchantUpdated(merchant, businessNumberHash, mcc, district);
    }

    /// @notice Suspend an active merchant.
    /// @param merchant The merchant's address.
    function suspend(address merchant) external onlyRole(REGISTRAR_ROLE) {
        Merchant storage entry = _registered(merchant);
        if (!entry.active) revert AlreadySuspended(merchant);
        entry.active = false;
        emit MerchantSuspended(merchant);
    }

    /// @notice Reactivate a suspended merchant.
    /// @param merchant The merchant's address.
    function reactivate(address merchant) external onlyRole(REGISTRAR_ROLE) {
        Merchant storage entry = _registered(merchant);
        if (entry.active) revert AlreadyActive(merchant);
        entry.active = true;
        emit MerchantReactivated(merchant);
    }

    /// @notice A merchant's entry (all zero when not registered).
    /// @param merchant The address.
    /// @return The entry.
    function merchantOf(address merchant) external view returns (Merchant memory) {
        return _merchants[merchant];
    }

    /// @notice Whether `merchant` is registered (active or suspended).
    /// @param merchant The address.
    /// @return True if registered.
    function isRegistered(address merchant) external view returns (bool) {
        return _merchants[merchant].businessNumberHash != bytes32(0);
    }

    /// @notice Whether `merchant` is registered and active.
    /// @param merchant The address.
    /// @return True if it may accept payments.
    function isActive(address merchant) external view returns (bool) {
        return _merchants[merchant].active;
    }

    /// @dev The storage entry of a registered merchant; reverts when not registered.
    /// @param merchant The address.
    /// @return entry The storage entry.
    function _registered(address merchant) private view returns (Merchant storage entry) {
        entry = _merchants[merchant];
        if (entry.businessNumberHash == bytes32(0)) revert NotRegistered(merchant);
    }

    /// @dev Revert unless the hash is non-zero and the category and district codes are valid.
    /// @param businessNumberHash Business number hash.
    /// @param mcc Category code.
    /// @param district District code.
    function _validate(bytes32 businessNumberHash, uint16 mcc, uint32 district) private pure {
        if (businessNumberHash == bytes32(0)) revert ZeroBusinessNumberHash();
        if (mcc == 0 || mcc > MAX_MCC) revert InvalidCategory(mcc);
        if (district < MIN_DISTRICT || district > MAX_DISTRICT) revert InvalidDistrict(district);
    }
}
