"""busanchain: Busan's regional blockchain platform."""

__version__ = "0.1.0"
