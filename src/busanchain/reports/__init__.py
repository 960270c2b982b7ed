"""Reports for city officials and auditors: dashboards, exports, cash-out alerts, expiry
clawback and the on-chain conservation proof of every allowance program."""
