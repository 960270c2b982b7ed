"""The web entry point: assembles the FastAPI application from the feature routers."""
