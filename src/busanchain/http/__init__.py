"""HTTP toolkit shared by the feature routes: language, templates, errors, dependencies.

Feature folders import this package; it imports no feature. `busanchain.web` assembles the
application from the features' routers.
"""
